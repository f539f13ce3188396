"""The chat page at /ui: served files, the API key and OLLAMA_NOUI, and a real Chromium driving it end to end."""

from __future__ import annotations

import os
import time
from pathlib import Path

import httpx
import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from ollamalib.create import create_model
from ollamalib.demo import CHAT_MODEL
from ollamalib.store import ModelStore
from srvutil import build_store

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")


@pytest.fixture(scope="module")
def ui_models(tmp_path_factory: pytest.TempPathFactory, smollm2_gguf: Path) -> Path:
    """The tiny test models plus the bundled SmolLM2 chat model."""
    root = tmp_path_factory.mktemp("ui-models")
    build_store(root / "models", root / "gguf")
    for _ in create_model(ModelStore(root / "models"), CHAT_MODEL, from_=str(smollm2_gguf)):
        pass
    return root / "models"


@pytest.fixture
def browser(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Debian's Chromium, headless, through its chromedriver (the Makefile installs both; nothing is downloaded)."""
    assert CHROMIUM.exists() and CHROMEDRIVER.exists(), "run `make system-deps` (chromium, chromium-driver)"
    monkeypatch.setenv("SE_OFFLINE", "true")  # Selenium Manager must never fetch a browser or driver
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--window-size=1100,800", f"--user-data-dir={tmp_path / 'chromium'}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def _wait(driver, condition, timeout: float = 300):
    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.2,
                             ignored_exceptions=(StaleElementReferenceException, IndexError)).until(condition)
    except Exception:
        messages = driver.find_element(By.ID, "messages").get_attribute("innerHTML")
        raise AssertionError(f"page state: {driver.find_element(By.ID, 'status').text!r} {messages[-1500:]}") from None


def _last(driver, selector: str) -> str:
    """The text of the last element matching ``selector``, read in one script (the page re-renders as it streams)."""
    return driver.execute_script(
        "var n = document.querySelectorAll(arguments[0]); return n.length ? n[n.length - 1].innerText : '';", selector)


def _assistant_text(driver) -> str:
    return _last(driver, ".msg.assistant .content")


def _send(driver, text: str) -> None:
    box = driver.find_element(By.ID, "prompt")
    box.send_keys(text)
    driver.find_element(By.ID, "send").click()


def test_ui_files_are_served_and_root_unchanged(live):
    assert httpx.get(live.url + "/").text == "Ollama is running"
    page = httpx.get(live.url + "/ui/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "/ui/app.js" in page.text
    for name, kind in (("app.js", "text/javascript"), ("markdown.js", "text/javascript"), ("style.css", "text/css")):
        r = httpx.get(f"{live.url}/ui/{name}")
        assert r.status_code == 200 and r.headers["content-type"].startswith(kind)
    assert httpx.get(live.url + "/ui").text == page.text
    assert httpx.get(live.url + "/ui/nothing.js").status_code == 404
    assert httpx.get(live.url + "/ui/..%2Fapp.py").status_code == 404


def test_noui_turns_the_page_off(server_factory):
    srv = server_factory(noui=True)
    r = httpx.get(srv.url + "/ui/")
    assert (r.status_code, r.text) == (404, "404 page not found")
    assert httpx.get(srv.url + "/").text == "Ollama is running"


def test_ui_files_need_no_api_key_but_the_api_does(server_factory):
    srv = server_factory(api_key="s3cret")
    assert httpx.get(srv.url + "/ui/").status_code == 200
    assert httpx.get(srv.url + "/ui/app.js").status_code == 200
    assert httpx.get(srv.url + "/api/tags").status_code == 401
    assert httpx.post(srv.url + "/ui/", json={}).status_code == 401  # only GET/HEAD of the files are open


def test_unknown_v1_path_is_gins_plain_404(live):
    for path in ("/v1/nothing", "/v1/chat/nothing", "/v1"):
        r = httpx.get(live.url + path)
        assert (r.status_code, r.text) == (404, "404 page not found")
        assert r.headers["content-type"].startswith("text/plain")
    r = httpx.get(live.url + "/v1/models/ghost")  # a route that matched keeps OpenAI's error shape
    assert r.status_code == 404 and r.json()["error"]["type"] == "not_found_error"


@pytest.mark.e2e
def test_browser_chats_streams_stops_and_keeps_the_conversation(server_factory, ui_models, browser, tmp_path):
    srv = server_factory(models=ui_models, num_parallel=1, max_queue=1)
    browser.get(srv.url + "/ui/")
    _wait(browser, lambda d: CHAT_MODEL in [o.text for o in Select(d.find_element(By.ID, "model")).options])
    Select(browser.find_element(By.ID, "model")).select_by_visible_text(CHAT_MODEL)

    # a real chat answer from SmolLM2, with the final chunk's stats
    browser.find_element(By.ID, "toggle-settings").click()
    browser.find_element(By.ID, "temperature").send_keys("0.2")
    browser.find_element(By.ID, "num_predict").send_keys("24")  # a bounded answer, even on a loaded machine
    _send(browser, "What is the capital of France?")
    _wait(browser, lambda d: "tokens/s" in _last(d, ".msg.assistant .stats"))
    answer = _assistant_text(browser)
    assert answer.strip(), "no answer text"
    assert "prompt tokens" in _last(browser, ".msg.assistant .stats")
    browser.save_screenshot(str(tmp_path / "ui.png"))
    assert (tmp_path / "ui.png").stat().st_size > 10_000

    # a long answer from the tiny model (no num_predict: it would go on for ever): text streams in, Stop ends it
    Select(browser.find_element(By.ID, "model")).select_by_visible_text("tiny:latest")
    num_ctx = browser.find_element(By.ID, "num_ctx")
    num_ctx.clear()
    num_ctx.send_keys("512")
    browser.find_element(By.ID, "num_predict").clear()  # no limit: the tiny model would go on for ever
    _send(browser, "Tell me a very long story.")
    _wait(browser, lambda d: len(_assistant_text(d)) > 20 and d.find_element(By.ID, "stop").is_displayed())
    first = len(_assistant_text(browser))
    _wait(browser, lambda d: len(_assistant_text(d)) > first)  # more text arrived on the same request: streamed
    browser.find_element(By.ID, "stop").click()
    _wait(browser, lambda d: d.find_element(By.ID, "send").is_displayed())
    _wait(browser, lambda d: "stopped" in _last(d, ".msg.assistant .stats"))

    # the server saw the disconnect: the only slot (num_parallel=1) serves the next request at once. Were it still
    # generating, this request would wait behind an answer that never ends and time out.
    quick = httpx.post(srv.url + "/api/generate", timeout=90, json={
        "model": "tiny", "prompt": "Hi", "stream": False, "options": {"num_predict": 2, "num_ctx": 512}})
    assert quick.status_code == 200 and quick.json()["eval_count"] == 2
    ps = httpx.get(srv.url + "/api/ps").json()["models"]
    assert [m["name"] for m in ps if m["name"] == "tiny:latest"]

    # the conversation survives a reload (localStorage)
    browser.refresh()
    _wait(browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, ".msg")) == 4)
    texts = [n.text for n in browser.find_elements(By.CSS_SELECTOR, ".msg .content")]
    assert texts[0] == "What is the capital of France?" and texts[1] == answer
    assert Select(browser.find_element(By.ID, "model")).first_selected_option.text == "tiny:latest"


@pytest.mark.e2e
def test_browser_asks_for_the_api_key_once(server_factory, browser):
    srv = server_factory(api_key="s3cret")
    browser.get(srv.url + "/ui/")
    _wait(browser, lambda d: d.find_element(By.ID, "key-dialog").is_displayed())
    browser.find_element(By.ID, "key-input").send_keys("s3cret\n")
    _wait(browser, lambda d: "tiny:latest" in [o.text for o in Select(d.find_element(By.ID, "model")).options])
    browser.refresh()  # the key is kept: no second question
    _wait(browser, lambda d: "tiny:latest" in [o.text for o in Select(d.find_element(By.ID, "model")).options])
    assert not browser.find_element(By.ID, "key-dialog").is_displayed()
    assert os.environ.get("SE_OFFLINE") == "true"
