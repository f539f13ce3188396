// The chat page: models from /api/tags, capabilities from /api/show, answers streamed from /api/chat (NDJSON
// over fetch + ReadableStream), a Stop button that aborts the request, and the conversation in localStorage.
(function () {
  "use strict";
  var STORE = "ollamalib.chat", KEY = "ollamalib.apiKey";
  var $ = function (id) { return document.getElementById(id); };
  var state = load();
  var controller = null, pendingImages = [], capabilities = [];

  function load() {
    try { return Object.assign({ model: "", messages: [], system: "", temperature: "", num_ctx: "", num_predict: "" }, JSON.parse(localStorage.getItem(STORE) || "{}")); }
    catch (e) { return { model: "", messages: [], system: "", temperature: "", num_ctx: "", num_predict: "" }; }
  }
  function save() { localStorage.setItem(STORE, JSON.stringify(state)); }
  function status(text) { $("status").textContent = text || ""; }

  function headers() {
    var h = { "Content-Type": "application/json" }, key = localStorage.getItem(KEY);
    if (key) h.Authorization = "Bearer " + key;
    return h;
  }
  function askKey() {
    return new Promise(function (resolve) {
      var dialog = $("key-dialog");
      $("key-form").onsubmit = function () { localStorage.setItem(KEY, $("key-input").value.trim()); resolve(); };
      dialog.showModal();
    });
  }
  // fetch with the stored key; on 401 ask for the key once and retry.
  async function api(path, options) {
    options = options || {};
    var response = await fetch(path, Object.assign({}, options, { headers: headers() }));
    if (response.status === 401) {
      await askKey();
      $("forget-key").hidden = false;
      response = await fetch(path, Object.assign({}, options, { headers: headers() }));
    }
    return response;
  }
  async function errorText(response) {
    try { var body = await response.json(); return body.error || response.statusText; } catch (e) { return response.status + " " + response.statusText; }
  }

  async function loadModels() {
    var response = await api("/api/tags");
    if (!response.ok) { status("Could not list models: " + await errorText(response)); return; }
    var models = (await response.json()).models || [], select = $("model");
    select.innerHTML = "";
    models.forEach(function (m) { var o = document.createElement("option"); o.value = o.textContent = m.name; select.appendChild(o); });
    if (!models.length) { status("No models yet: pull or create one first (ollamalib pull / create)."); return; }
    if (state.model && models.some(function (m) { return m.name === state.model; })) select.value = state.model;
    state.model = select.value; save();
    await loadCapabilities();
  }
  async function loadCapabilities() {
    capabilities = [];
    var response = await api("/api/show", { method: "POST", body: JSON.stringify({ model: state.model }) });
    if (response.ok) capabilities = (await response.json()).capabilities || [];
    $("attach-label").hidden = capabilities.indexOf("vision") < 0;
    if ($("attach-label").hidden) { pendingImages = []; $("attached").textContent = ""; }
  }

  function stats(m) {
    if (!m.stats) return "";
    var s = m.stats, parts = [];
    if (s.eval_count && s.eval_duration) parts.push((s.eval_count / (s.eval_duration / 1e9)).toFixed(1) + " tokens/s");
    if (s.eval_count != null) parts.push(s.eval_count + " tokens");
    if (s.prompt_eval_count != null) parts.push(s.prompt_eval_count + " prompt tokens");
    if (s.load_duration != null) parts.push("load " + (s.load_duration / 1e6).toFixed(0) + " ms");
    if (s.done_reason) parts.push(s.done_reason);
    return parts.join(" · ");
  }
  function renderMessage(m, node) {
    node = node || document.createElement("div");
    node.className = "msg " + m.role + (m.error ? " error" : "");
    node.innerHTML = "";
    var role = document.createElement("div"); role.className = "role"; role.textContent = m.role === "user" ? "you" : (m.model || "assistant");
    node.appendChild(role);
    if (m.thinking) {
      var d = document.createElement("details"), sum = document.createElement("summary"), body = document.createElement("div");
      sum.textContent = "Thinking"; body.className = "thinking"; body.innerHTML = window.renderMarkdown(m.thinking);
      d.appendChild(sum); d.appendChild(body); node.appendChild(d);
    }
    (m.images || []).forEach(function (b64) { var img = document.createElement("img"); img.src = "data:image/*;base64," + b64; img.alt = "attached image"; node.appendChild(img); });
    var content = document.createElement("div"); content.className = "content";
    content.innerHTML = m.role === "user" ? "<p>" + window.escapeHtml(m.content).replace(/\n/g, "<br>") + "</p>" : window.renderMarkdown(m.content);
    node.appendChild(content);
    var line = stats(m) || (m.error ? m.error : "");
    if (line) { var st = document.createElement("div"); st.className = "stats"; st.textContent = line; node.appendChild(st); }
    return node;
  }
  function renderAll() {
    var box = $("messages"); box.innerHTML = "";
    state.messages.forEach(function (m) { box.appendChild(renderMessage(m)); });
    box.scrollTop = box.scrollHeight;
  }

  function chatBody() {
    var messages = [];
    if (state.system) messages.push({ role: "system", content: state.system });
    state.messages.forEach(function (m) {
      if (m.error && !m.content) return;
      var out = { role: m.role, content: m.content };
      if (m.images && m.images.length) out.images = m.images;
      messages.push(out);
    });
    var options = {};
    if (state.temperature !== "") options.temperature = Number(state.temperature);
    if (state.num_ctx !== "") options.num_ctx = parseInt(state.num_ctx, 10);
    if (state.num_predict !== "") options.num_predict = parseInt(state.num_predict, 10);
    return { model: state.model, messages: messages, stream: true, options: options };
  }

  function busy(on) { $("send").hidden = on; $("stop").hidden = !on; $("prompt").disabled = false; }

  async function send(text) {
    if (!state.model) { status("Pick a model first."); return; }
    var user = { role: "user", content: text };
    if (pendingImages.length) user.images = pendingImages.slice();
    pendingImages = []; $("attached").textContent = "";
    state.messages.push(user);
    var body = chatBody();
    var reply = { role: "assistant", content: "", model: state.model };
    state.messages.push(reply); save(); renderAll();
    var node = $("messages").lastChild;
    controller = new AbortController(); busy(true); status("Waiting for " + state.model + "...");
    try {
      var response = await api("/api/chat", { method: "POST", body: JSON.stringify(body), signal: controller.signal });
      if (!response.ok) throw new Error(await errorText(response));
      var reader = response.body.getReader(), decoder = new TextDecoder(), buffer = "";
      status("");
      for (;;) {
        var chunk = await reader.read();
        if (chunk.done) break;
        buffer += decoder.decode(chunk.value, { stream: true });
        var lines = buffer.split("\n"); buffer = lines.pop();
        lines.forEach(function (line) {
          if (!line.trim()) return;
          var data = JSON.parse(line);
          if (data.error) throw new Error(data.error);
          if (data.message) {
            reply.content += data.message.content || "";
            if (data.message.thinking) reply.thinking = (reply.thinking || "") + data.message.thinking;
          }
          if (data.done) reply.stats = { eval_count: data.eval_count, eval_duration: data.eval_duration, prompt_eval_count: data.prompt_eval_count, load_duration: data.load_duration, done_reason: data.done_reason };
        });
        renderMessage(reply, node); $("messages").scrollTop = $("messages").scrollHeight;
      }
    } catch (err) {
      if (err.name === "AbortError") reply.stats = { done_reason: "stopped" };
      else reply.error = String(err.message || err);
    } finally {
      controller = null; busy(false); save(); renderMessage(reply, node);
    }
  }

  function readImages(files) {
    Array.prototype.forEach.call(files, function (file) {
      var reader = new FileReader();
      reader.onload = function () { pendingImages.push(String(reader.result).split(",")[1]); $("attached").textContent = pendingImages.length + " image(s)"; };
      reader.readAsDataURL(file);
    });
  }

  function bind() {
    $("system").value = state.system; $("temperature").value = state.temperature; $("num_ctx").value = state.num_ctx; $("num_predict").value = state.num_predict;
    $("forget-key").hidden = !localStorage.getItem(KEY);
    $("system").oninput = $("system").onchange = function () { state.system = this.value; save(); };
    $("temperature").oninput = $("temperature").onchange = function () { state.temperature = this.value; save(); };
    $("num_ctx").oninput = $("num_ctx").onchange = function () { state.num_ctx = this.value; save(); };
    $("num_predict").oninput = $("num_predict").onchange = function () { state.num_predict = this.value; save(); };
    $("forget-key").onclick = function () { localStorage.removeItem(KEY); this.hidden = true; };
    $("toggle-settings").onclick = function () { var s = $("settings"); s.hidden = !s.hidden; this.setAttribute("aria-expanded", String(!s.hidden)); };
    $("model").onchange = function () { state.model = this.value; save(); loadCapabilities(); };
    $("new-chat").onclick = function () { if (controller) controller.abort(); state.messages = []; save(); renderAll(); };
    $("stop").onclick = function () { if (controller) controller.abort(); };
    $("attach").onchange = function () { readImages(this.files); this.value = ""; };
    $("composer").onsubmit = function (e) {
      e.preventDefault();
      var text = $("prompt").value.trim();
      if (!text || controller) return;
      $("prompt").value = ""; send(text);
    };
    $("prompt").onkeydown = function (e) {
      if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); $("composer").requestSubmit(); }
    };
  }

  bind(); renderAll(); loadModels().catch(function (e) { status(String(e)); });
})();
