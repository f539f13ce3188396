// A small, safe Markdown renderer for the chat page: HTML in the source is escaped first, so model output can
// never inject markup. Handles fenced code, headings, lists, quotes, paragraphs, inline code, bold, italic, links.
(function (global) {
  "use strict";
  function escapeHtml(text) {
    return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&#39;");
  }
  function inline(text) {
    var parts = text.split(/(`[^`\n]+`)/g);
    return parts.map(function (part) {
      if (/^`[^`\n]+`$/.test(part)) return "<code>" + escapeHtml(part.slice(1, -1)) + "</code>";
      var s = escapeHtml(part);
      s = s.replace(/\[([^\]]+)\]\((https?:\/\/[^\s)]+)\)/g, '<a href="$2" target="_blank" rel="noopener noreferrer">$1</a>');
      s = s.replace(/\*\*([^*]+)\*\*/g, "<strong>$1</strong>").replace(/__([^_]+)__/g, "<strong>$1</strong>");
      s = s.replace(/(^|[^*])\*([^*\s][^*]*)\*/g, "$1<em>$2</em>");
      return s;
    }).join("");
  }
  function render(source) {
    var lines = String(source || "").replace(/\r\n?/g, "\n").split("\n");
    var out = [], para = [], list = null, i = 0;
    function flushPara() { if (para.length) { out.push("<p>" + inline(para.join(" ")) + "</p>"); para = []; } }
    function flushList() { if (list) { out.push("<" + list.tag + ">" + list.items.map(function (it) { return "<li>" + inline(it) + "</li>"; }).join("") + "</" + list.tag + ">"); list = null; } }
    while (i < lines.length) {
      var line = lines[i], m;
      if ((m = /^\s*(```|~~~)\s*([\w+-]*)\s*$/.exec(line))) {
        flushPara(); flushList();
        var fence = m[1], code = [];
        i++;
        while (i < lines.length && lines[i].trim() !== fence) { code.push(lines[i]); i++; }
        i++;
        out.push("<pre><code" + (m[2] ? ' class="language-' + escapeHtml(m[2]) + '"' : "") + ">" + escapeHtml(code.join("\n")) + "</code></pre>");
        continue;
      }
      if ((m = /^(#{1,6})\s+(.*)$/.exec(line))) {
        flushPara(); flushList();
        out.push("<h" + m[1].length + ">" + inline(m[2]) + "</h" + m[1].length + ">");
      } else if ((m = /^\s*([-*+]|\d+[.)])\s+(.*)$/.exec(line))) {
        flushPara();
        var tag = /\d/.test(m[1]) ? "ol" : "ul";
        if (list && list.tag !== tag) flushList();
        if (!list) list = { tag: tag, items: [] };
        list.items.push(m[2]);
      } else if ((m = /^>\s?(.*)$/.exec(line))) {
        flushPara(); flushList();
        out.push("<blockquote>" + inline(m[1]) + "</blockquote>");
      } else if (line.trim() === "") {
        flushPara(); flushList();
      } else if (list && /^\s{2,}\S/.test(line)) {
        list.items[list.items.length - 1] += " " + line.trim();
      } else {
        flushList();
        para.push(line.trim());
      }
      i++;
    }
    flushPara(); flushList();
    return out.join("\n");
  }
  global.renderMarkdown = render;
  global.escapeHtml = escapeHtml;
})(window);
