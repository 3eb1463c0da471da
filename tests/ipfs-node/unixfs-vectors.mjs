// Golden CIDs from an independent UnixFS importer: ipfs-unixfs-importer (the one js-ipfs 0.66.1 runs), driven
// directly so that every profile parameter can be set (links per node, chunk size, leaf kind, CID version, and
// HAMT or not). Used only by `pytest --update-goldens` (tests/vectors.py); never at test time.
//
// stdin: a JSON list of cases; stdout: a JSON object case id -> CID.
//   {"id", "kind": "file", "size", "seed", "chunk", "links", "raw", "version"}
//   {"id", "kind": "directory", "names", "hamt", "chunk", "links", "raw", "version"}  (each file holds "x")
// Content is the ChaCha20 keystream keyed by sha256(seed), zero nonce: kubo's deterministic test reader.
import { createCipheriv, createHash } from 'node:crypto'
import { importer } from 'ipfs-unixfs-importer'

const discard = { put: async (cid) => cid }

function * keystream (size, seed) {
  const cipher = createCipheriv('chacha20', createHash('sha256').update(seed).digest(), Buffer.alloc(16))
  const piece = 1 << 20
  for (let left = size; left > 0; left -= piece) {
    yield cipher.update(Buffer.alloc(Math.min(piece, left)))
  }
}

function options (c) {
  return {
    cidVersion: c.version,
    rawLeaves: c.raw,
    leafType: c.raw ? 'raw' : 'file',
    chunker: 'fixed',
    maxChunkSize: c.chunk,
    maxChildrenPerNode: c.links,
    // A count threshold: forces a HAMT (1) or a basic directory (never) as the case says the profile's rule
    // decides; the layout of the HAMT is the importer's own.
    shardSplitThreshold: c.hamt ? 1 : Number.MAX_SAFE_INTEGER
  }
}

async function cidOf (c) {
  const source = c.kind === 'file'
    ? [{ path: 'f', content: keystream(c.size, c.seed) }]
    : c.names.map((name) => ({ path: `dir/${name}`, content: [Buffer.from('x')] }))
  let last
  for await (const entry of importer(source, discard, options(c))) {
    last = entry
  }
  return last.cid.toString()
}

const chunks = []
for await (const chunk of process.stdin) chunks.push(chunk)
const answers = {}
for (const c of JSON.parse(Buffer.concat(chunks).toString())) {
  answers[c.id] = await cidOf(c)
}
process.stdout.write(JSON.stringify(answers))
