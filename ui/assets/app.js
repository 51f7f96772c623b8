// workflow-ui: the little the pages do in the browser.  The server renders
// everything; this only reloads an open run's live part, checks a signal's
// payload as JSON before it is sent, and asks before drastic actions.
(function () {
  'use strict';

  // An open run: reload <div id="live"> every 2 seconds until it closes.
  function poll() {
    var live = document.getElementById('live');
    if (!live || live.dataset.open !== '1') return;
    setTimeout(function () {
      fetch(location.href, { credentials: 'same-origin', cache: 'no-store' })
        .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
        .then(function (html) {
          var doc = new DOMParser().parseFromString(html, 'text/html');
          var fresh = doc.getElementById('live');
          var status = doc.getElementById('run-status');
          if (fresh) live.replaceWith(document.adoptNode(fresh));
          var mine = document.getElementById('run-status');
          if (status && mine) {
            mine.textContent = status.textContent;
            mine.className = status.className;
          }
        })
        .catch(function () { /* the server or database is away: try again */ })
        .then(poll);
    }, 2000);
  }

  // The signal payload editor: JSON or nothing.
  function checkJson(area) {
    var note = area.form.querySelector('.json-status');
    var text = area.value.trim();
    var ok = true;
    if (text !== '') {
      try { JSON.parse(text); } catch (e) { ok = false; if (note) note.textContent = e.message; }
    }
    if (ok && note) note.textContent = '';
    area.classList.toggle('invalid', !ok);
    return ok;
  }

  document.addEventListener('DOMContentLoaded', function () {
    poll();
    document.querySelectorAll('textarea.json-editor').forEach(function (area) {
      area.addEventListener('input', function () { checkJson(area); });
      area.form.addEventListener('submit', function (ev) {
        if (!checkJson(area)) ev.preventDefault();
      });
    });
    document.querySelectorAll('form[data-confirm]').forEach(function (form) {
      form.addEventListener('submit', function (ev) {
        if (!window.confirm(form.dataset.confirm)) ev.preventDefault();
      });
    });
  });
})();
