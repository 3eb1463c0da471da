"""Draws docs/architecture.svg: the layers of the zkreg package and the data flow of its main job.

Run `python docs/architecture.py > docs/architecture.svg`; tests/test_docs.py keeps the committed picture current.
Plain SVG written by hand (no drawing dependency): boxes for the layers, a row of arrows for the flow.
"""

from __future__ import annotations

from html import escape

WIDTH = 1000
LAYERS: list[tuple[str, str, list[tuple[str, str]]]] = [
    (
        "adapters",
        "#dbeafe",
        [
            ("cli/", "Typer; commands load lazily; render, --json, exit codes"),
            ("serve/", "FastAPI + uvicorn; bounded bodies, head deadline, per-address cap"),
        ],
    ),
    (
        "application: zkreg.api re-exports zkreg.app",
        "#dcfce7",
        [
            ("app/repo.py", "Repo: the composition root (stores, ledger, identity)"),
            ("app/publish, pull, verify", "local workflows, a frozen request each"),
            ("app/transfer, gc, proofs", "CARs, garbage, prove/verify, scores"),
            ("app/sync, remote, provider", "peers: sync, pull/prove --remote, serve side"),
        ],
    ),
    (
        "domain and transport",
        "#fef9c3",
        [
            ("registry/", "CIDs, UnixFS, CAR, DAG walk, manifests, blockstores, refs index"),
            ("reputation/", "entries, pure feed verification, ledger, sync, scores, policy"),
            ("zk/", "typed zk documents, workflow, runner (deadline), ezkl backend"),
            ("peer/", "HTTP client, typed answers, signed requests, limits, peer store"),
        ],
    ),
    (
        "foundations",
        "#f3f4f6",
        [
            ("codecs/", "the one DAG-CBOR encoder, varint"),
            ("schemas/", "draft-07, one validator, depth guard"),
            ("storage.py, fsutil.py", "SQLite opener + migrations; atomic_write"),
            ("errors.py, transport.py", "one class per code; httpx errors mapped once"),
        ],
    ),
]
FLOW = [
    ("publish", "files -> CIDs, signed manifest; `publish` entry"),
    ("pull", "every block and signature checked; `use`"),
    ("prove", "ezkl in a child with a deadline; `receipt`"),
    ("verify", "bundle vs the manifest's commitment; `attest`"),
    ("sync", "feeds and evidence between peers -> scores"),
]
LAYER_H, BOX_GAP, MARGIN, TITLE_H = 92, 12, 20, 22


def wrap_text(x: int, y: int, w: int, text: str, size: int = 11) -> str:
    """Words laid into lines that fit `w` (an estimate: 0.55 em a character)."""
    per_line = max(8, int(w / (size * 0.55)))
    lines, line = [], ""
    for word in text.split():
        if line and len(line) + 1 + len(word) > per_line:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    lines.append(line)
    return "".join(
        f'<text x="{x}" y="{y + n * (size + 3)}" font-size="{size}">{escape(part)}</text>'
        for n, part in enumerate(lines)
    )


def draw() -> str:
    parts: list[str] = []
    y = MARGIN
    for title, fill, modules in LAYERS:
        parts.append(f'<text x="{MARGIN}" y="{y + 14}" font-weight="bold" fill="#111827">{escape(title)}</text>')
        y += TITLE_H
        inner = WIDTH - 2 * MARGIN
        w = (inner - BOX_GAP * (len(modules) - 1)) // len(modules)
        for n, (name, text) in enumerate(modules):
            x = MARGIN + n * (w + BOX_GAP)
            parts.append(
                f'<rect x="{x}" y="{y}" width="{w}" height="{LAYER_H - TITLE_H}" rx="6" fill="{fill}" '
                'stroke="#374151"/>'
            )
            parts.append(f'<text x="{x + 8}" y="{y + 18}" font-weight="bold">{escape(name)}</text>')
            parts.append(wrap_text(x + 8, y + 34, w - 16, text))
        y += LAYER_H - TITLE_H + BOX_GAP
    parts.append(
        f'<text x="{MARGIN}" y="{y + 14}" font-weight="bold">the main job, and the ledger entry each '
        "step appends</text>"
    )
    y += TITLE_H
    step_w = (WIDTH - 2 * MARGIN - 30 * (len(FLOW) - 1)) // len(FLOW)
    for n, (name, text) in enumerate(FLOW):
        x = MARGIN + n * (step_w + 30)
        parts.append(f'<rect x="{x}" y="{y}" width="{step_w}" height="70" rx="6" fill="#ede9fe" stroke="#374151"/>')
        parts.append(f'<text x="{x + 8}" y="{y + 18}" font-weight="bold">{escape(name)}</text>')
        parts.append(wrap_text(x + 8, y + 34, step_w - 16, text))
        if n:
            ax = x - 26
            parts.append(
                f'<line x1="{ax}" y1="{y + 35}" x2="{x - 4}" y2="{y + 35}" stroke="#374151" marker-end="url(#arrow)"/>'
            )
    height = y + 70 + MARGIN
    header = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" '
        'font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="13">'
        '<defs><marker id="arrow" markerWidth="8" markerHeight="8" refX="7" refY="4" orient="auto">'
        '<path d="M0,0 L8,4 L0,8 z" fill="#374151"/></marker></defs>'
        f'<rect width="{WIDTH}" height="{height}" fill="white"/>'
    )
    return header + "\n".join(parts) + "</svg>\n"


if __name__ == "__main__":
    print(draw(), end="")
