"""The registry pages in a real browser: they load, their links lead from artefact to artefact, and hostile text
stays text. Each test saves a screenshot of the page type it checks under test-artifacts/."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from tests.pages.conftest import DOCS, DOCS_ENV, HOSTILE_DETAILS, HOSTILE_FILE, HOSTILE_MESSAGE, ServedPeer

pytestmark = pytest.mark.slow  # a real browser and a real server: seconds each


def heading(browser: WebDriver) -> str:
    return " ".join(browser.find_element(By.TAG_NAME, "h1").text.split())


def test_index_links_to_a_manifest_page_and_on_to_its_dataset_and_parent(
    browser: WebDriver, served_peer: ServedPeer, artifacts: Path
) -> None:
    browser.get(served_peer.url + "/")
    assert heading(browser) == "Artefacts this peer offers"
    rows = browser.find_elements(By.CSS_SELECTOR, "#artefacts tr")[1:]
    assert [row.find_elements(By.TAG_NAME, "td")[2].text for row in rows] == ["2", "1", "1"]
    browser.save_screenshot(str(artifacts / "index.png"))

    rows[0].find_element(By.LINK_TEXT, "classifier").click()
    assert heading(browser) == "model classifier@2 public weights"
    assert served_peer.cids["classifier@2"] in browser.find_element(By.ID, "fields").text
    assert "consensus none" in browser.find_element(By.ID, "consensus").text
    lineage = browser.find_element(By.CSS_SELECTOR, "#lineage svg")
    assert "model classifier@1" in lineage.text
    assert "dataset rows@1" in lineage.text
    browser.save_screenshot(str(artifacts / "manifest.png"))
    lineage.screenshot(str(artifacts / "lineage.png"))
    if os.environ.get(DOCS_ENV):
        shutil.copy(artifacts / "manifest.png", DOCS / "manifest-page.png")
        shutil.copy(artifacts / "lineage.png", DOCS / "lineage.png")

    browser.find_element(By.ID, "dataset-link").click()
    assert heading(browser) == "dataset rows@1 public"
    browser.back()
    browser.find_element(By.CSS_SELECTOR, "a.parent-link").click()
    assert heading(browser) == "model classifier@1 public weights"
    assert browser.current_url == f"{served_peer.url}/m/{served_peer.cids['classifier@1']}"


def test_a_hostile_message_and_file_name_with_script_show_as_text_and_run_nothing(
    browser: WebDriver, served_peer: ServedPeer, artifacts: Path
) -> None:
    browser.get(f"{served_peer.url}/m/rows@1")
    assert browser.find_element(By.ID, "message").text == HOSTILE_MESSAGE
    assert HOSTILE_DETAILS in browser.find_element(By.ID, "attesters").text
    assert "1 trusted attester(s)" in browser.find_element(By.ID, "consensus").text
    assert HOSTILE_FILE in browser.find_element(By.ID, "files").text
    assert browser.find_elements(By.TAG_NAME, "script") == []
    assert browser.find_elements(By.CSS_SELECTOR, "main img") == []
    assert browser.title == "rows@1 · zkreg peer"
    browser.save_screenshot(str(artifacts / "hostile.png"))


def test_reputation_page_lists_the_peer_and_links_to_its_inputs(
    browser: WebDriver, served_peer: ServedPeer, artifacts: Path
) -> None:
    browser.get(served_peer.url + "/rep")
    assert heading(browser) == "Reputation"
    top = browser.find_element(By.ID, "top")
    ranked = [row.text for row in top.find_elements(By.TAG_NAME, "tr")[1:]]
    assert [row.split()[2] for row in ranked] == [served_peer.did, served_peer.endorsed]
    assert ranked[0].endswith("root")
    browser.save_screenshot(str(artifacts / "reputation.png"))
    top.find_element(By.CSS_SELECTOR, "a.did").click()
    assert browser.find_element(By.ID, "identity").text.startswith("did:key:z6Mk")
    assert "trust (root)" in browser.find_element(By.ID, "inputs").text
    browser.get(f"{served_peer.url}/rep/{served_peer.endorsed}")
    inputs = browser.find_element(By.ID, "inputs").text
    assert "trust (vouch)" in inputs
    assert served_peer.did in inputs
    browser.save_screenshot(str(artifacts / "identity.png"))
