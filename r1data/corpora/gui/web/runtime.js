// The behaviour of every generated app (r1data.corpora.gui): screens, navigation with a history,
// toggles, check boxes, dialogs, long presses, adding to and deleting from lists, forms, and
// drag scrolling. Elements declare what they do with data-* attributes; r1app.state() reports
// what the app shows so the build can check that an action had its effect, and
// r1app.elements() lists every visible interactive element with its box (CSS pixels).
// One IIFE, no globals but window.r1app: a fresh page per episode starts from scratch.
(function () {
  "use strict";
  var R = (window.r1app = { history: [], current: null, dialog: null, context: null, cfg: null, made: 0 });
  var LONG_PRESS_MS = 500, DRAG_PX = 8;

  function byId(id) { return document.getElementById(id); }
  function all(sel, root) { return Array.prototype.slice.call((root || document).querySelectorAll(sel)); }
  function show(id, push) {
    var target = byId(id);
    if (!target) throw new Error("no screen " + id);
    if (push && R.current && R.current !== id) R.history.push(R.current);
    all("section.screen").forEach(function (s) { s.classList.toggle("active", s.id === id); });
    R.current = id;
  }
  function openDialog(id, context) {
    var d = byId(id);
    d.hidden = false;
    R.dialog = id;
    R.context = context || null;
    var name = d.querySelector("[data-fill-context]");
    if (name && context) name.textContent = context.dataset.label || "";
  }
  function closeDialog() {
    if (!R.dialog) return;
    byId(R.dialog).hidden = true;
    all("input", byId(R.dialog)).forEach(function (i) { i.value = ""; });
    R.dialog = null;
    R.context = null;
  }
  R.back = function () {
    if (R.dialog) return closeDialog();
    if (R.history.length) show(R.history.pop(), false);
  };
  R.home = function () { closeDialog(); R.history = []; if (byId("home")) show("home", false); };
  R.open = function (name) {
    var cfg = R.cfg;
    if (String(name).trim().toLowerCase() !== cfg.app.toLowerCase()) return false;
    closeDialog();
    R.history = [];
    if (cfg.splash) {
      show("splash", false);
      setTimeout(function () { show(cfg.main, false); }, cfg.splash);
    } else {
      show(cfg.main, false);
    }
    return true;
  };

  function labelOf(el) {
    return el.dataset.label || el.getAttribute("aria-label") || el.getAttribute("placeholder") || (el.textContent || "").trim();
  }
  function addFrom(el) {
    var input = byId(el.dataset.input), list = byId(el.dataset.list), text = input.value.trim();
    if (!text) return;
    var tpl = byId("tpl-" + el.dataset.list);
    var node = tpl.content.firstElementChild.cloneNode(true);
    (node.querySelector(".title") || node).textContent = text;
    var extra = el.dataset.extra ? byId(el.dataset.extra) : null, sub = node.querySelector(".sub");
    if (sub && extra) sub.textContent = extra.value.trim();
    node.dataset.label = text;
    if (node.hasAttribute("data-el")) { R.made += 1; node.dataset.el = "n" + R.made; }
    list.appendChild(node);
    input.value = "";
    if (extra) extra.value = "";
    list.scrollTop = list.scrollHeight;
    var scroller = list.closest("[data-scroll]");
    if (scroller) scroller.scrollTop = scroller.scrollHeight;
  }
  function submit(el) {
    var form = byId(el.dataset.form), ok = true;
    all("input[data-required]", form).forEach(function (i) { if (!i.value.trim()) ok = false; });
    all("[data-required-check]", form).forEach(function (c) { if (c.getAttribute("aria-checked") !== "true") ok = false; });
    var error = form.querySelector(".form-error");
    if (!ok) { if (error) error.hidden = false; return; }
    all("[data-fill]").forEach(function (t) { var src = byId(t.dataset.fill); t.textContent = src ? src.value.trim() : ""; });
    show(el.dataset.nav, true);
  }
  function act(el) {
    var d = el.dataset;
    if (d.back !== undefined) return R.back();
    if (d.open) return R.open(d.open);
    if (d.toggle !== undefined || d.check !== undefined) {
      var on = el.getAttribute("aria-checked") !== "true";
      if (d.radio) all('[data-radio="' + d.radio + '"]').forEach(function (r) { r.setAttribute("aria-checked", "false"); });
      el.setAttribute("aria-checked", String(d.radio ? true : on));
      var state = el.querySelector("[data-state]");
      if (state) state.textContent = el.getAttribute("aria-checked") === "true" ? state.dataset.on : state.dataset.off;
      return;
    }
    if (d.do === "add") return addFrom(el);
    if (d.do === "submit") return submit(el);
    if (d.do === "delete") { var c = R.context; closeDialog(); if (c) c.remove(); return; }
    if (d.do === "close") return closeDialog();
    if (d.do === "save") { addFrom(el); return closeDialog(); }
    if (d.dialog) return openDialog(d.dialog, el);
    if (d.nav) return show(d.nav, true);
    if (d.role === "input") { el.focus(); }
  }

  // -- pointer: click, long press, drag scrolling ------------------------------------------------
  var press = null, suppress = false;
  document.addEventListener("pointerdown", function (e) {
    var el = e.target.closest("[data-el]"), scroller = e.target.closest("[data-scroll]");
    press = { x: e.clientX, y: e.clientY, el: el, scroller: scroller, moved: false, timer: null,
              top: scroller ? scroller.scrollTop : 0, left: scroller ? scroller.scrollLeft : 0 };
    suppress = false;
    var lp = e.target.closest("[data-longpress]");
    if (lp) press.timer = setTimeout(function () { suppress = true; openDialog(lp.dataset.longpress, lp); }, LONG_PRESS_MS);
  }, true);
  document.addEventListener("pointermove", function (e) {
    if (!press || !press.scroller) return;
    var dx = e.clientX - press.x, dy = e.clientY - press.y;
    if (!press.moved && Math.abs(dx) < DRAG_PX && Math.abs(dy) < DRAG_PX) return;
    press.moved = true;
    clearTimeout(press.timer);
    // a swipe names where the view goes, as AndroidControl's scroll does: a finger moving down
    // (coordinate -> coordinate2 downwards) scrolls down, revealing what is below
    press.scroller.scrollTop = press.top + dy;
    press.scroller.scrollLeft = press.left + dx;
  }, true);
  document.addEventListener("pointerup", function () {
    if (press) { clearTimeout(press.timer); if (press.moved) suppress = true; }
    press = null;
  }, true);
  document.addEventListener("click", function (e) {
    if (suppress) { suppress = false; e.preventDefault(); e.stopPropagation(); return; }
    var el = e.target.closest("[data-el]");
    if (el && !el.closest("[hidden]")) act(el);
  }, true);
  document.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && e.target.dataset && e.target.dataset.enter) act(byId(e.target.dataset.enter));
  }, true);

  // -- what the build reads ------------------------------------------------------------------------
  function inView(el) {
    return !el.closest("[hidden]") && (R.dialog ? el.closest("#" + R.dialog) : el.closest("section.screen.active, .chrome"));
  }
  R.elements = function () {
    var W = window.innerWidth, H = window.innerHeight;
    return all("[data-el]").filter(inView).map(function (el) {
      var r = el.getBoundingClientRect();
      var box = [r.left, r.top, r.right, r.bottom];
      var cx = (r.left + r.right) / 2, cy = (r.top + r.bottom) / 2, hit = false;
      if (cx >= 0 && cy >= 0 && cx < W && cy < H) {
        var at = document.elementFromPoint(cx, cy);
        hit = !!at && (at === el || el.contains(at));
      }
      var scroller = el.closest("[data-scroll]");
      var clip = scroller && scroller !== el ? scroller.getBoundingClientRect() : { left: 0, top: 0, right: W, bottom: H };
      var shown = r.width > 0 && r.height > 0 && r.left >= Math.max(0, clip.left) - 0.5 && r.top >= Math.max(0, clip.top) - 0.5 &&
        r.right <= Math.min(W, clip.right) + 0.5 && r.bottom <= Math.min(H, clip.bottom) + 0.5;
      var visible = r.width > 0 && r.height > 0 && r.right > Math.max(0, clip.left) && r.left < Math.min(W, clip.right) &&
        r.bottom > Math.max(0, clip.top) && r.top < Math.min(H, clip.bottom);
      return { id: el.dataset.el, role: el.dataset.role || "", label: labelOf(el), box: box, hit: hit, shown: shown,
               visible: visible, longpress: !!el.dataset.longpress,
               checked: el.hasAttribute("aria-checked") ? el.getAttribute("aria-checked") === "true" : null,
               value: el.tagName === "INPUT" ? el.value : null, focused: document.activeElement === el };
    });
  };
  R.state = function () {
    var values = {}, checks = {}, lists = {}, scroll = {};
    all("input[data-el]").forEach(function (i) { values[i.dataset.el] = i.value; });
    all("[aria-checked][data-el]").forEach(function (c) { checks[c.dataset.el] = c.getAttribute("aria-checked") === "true"; });
    all("[data-list-of]").forEach(function (l) { lists[l.id] = all("[data-label]", l).map(function (x) { return x.dataset.label; }); });
    all("[data-scroll]").forEach(function (s) { scroll[s.id] = [s.scrollLeft, s.scrollTop]; });
    var title = "", screen = byId(R.current);
    if (R.dialog) title = byId(R.dialog).querySelector("h2").textContent;
    else if (R.current === "home") title = "Home screen";
    else if (R.current === "splash") title = "Loading";
    else if (screen && screen.querySelector("h1")) title = screen.querySelector("h1").textContent;
    return { screen: R.current, dialog: R.dialog, title: title, values: values, checks: checks, lists: lists, scroll: scroll,
             focused: document.activeElement && document.activeElement.dataset ? document.activeElement.dataset.el || null : null };
  };
  R.init = function (cfg) {
    R.cfg = cfg;
    show(cfg.start, false);
    document.body.dataset.ready = "1";
  };
})();
