// The console's behaviour in the browser: live updates of the overview (topics and charts
// from the JSON API every few seconds, without a reload) and select-all on the dead letters.
(function () {
  'use strict';

  var body = document.body;
  var page = body.dataset.page;
  var refreshMs = Math.max(1, parseInt(body.dataset.refresh || '5', 10)) * 1000;

  function getJSON(url) {
    return fetch(url, { credentials: 'same-origin', headers: { Accept: 'application/json' } })
      .then(function (r) {
        if (r.status === 401) throw new Error('logged out: reload the page to log in');
        if (!r.ok) {
          return r.json().then(function (e) { throw new Error(e.error || ('HTTP ' + r.status)); },
            function () { throw new Error('HTTP ' + r.status); });
        }
        return r.json();
      });
  }

  // The same formats as the server's templates.
  var DASH = '–';
  function missing(v) { return v === null || v === undefined || (typeof v === 'number' && !isFinite(v)); }
  function num(v) { return missing(v) ? DASH : Math.round(v).toLocaleString('en-US'); }
  function rate(v) {
    if (missing(v)) return DASH;
    if (v === 0) return '0';
    return Math.abs(v) < 0.01 ? v.toFixed(4) : v.toFixed(2);
  }
  function pct(v) { return missing(v) ? DASH : (v * 100).toFixed(1) + '%'; }
  function age(s) {
    if (missing(s)) return DASH;
    if (s < 1) return Math.round(s * 1000) + 'ms';
    if (s < 60) return s.toFixed(1) + 's';
    var t = Math.floor(s), d = Math.floor(t / 86400), h = Math.floor(t % 86400 / 3600), m = Math.floor(t % 3600 / 60), sec = t % 60;
    var p = function (n) { return n < 10 ? '0' + n : String(n); };
    if (d > 0) return d + 'd ' + p(h) + 'h';
    if (h > 0) return h + 'h ' + p(m) + 'm';
    return m + 'm ' + p(sec) + 's';
  }

  function td(tr, text, className) {
    var cell = document.createElement('td');
    if (className) cell.className = className;
    if (text !== undefined) cell.textContent = text;
    tr.appendChild(cell);
    return cell;
  }

  function renderTopics(table, topics) {
    var tbody = table.tBodies[0];
    var rows = document.createDocumentFragment();
    topics.forEach(function (t) {
      var tr = document.createElement('tr');
      tr.dataset.topic = t.topic;
      var link = document.createElement('a');
      link.href = '/topics/' + encodeURIComponent(t.topic);
      link.textContent = t.topic;
      td(tr).appendChild(link);
      td(tr, num(t.pending), 'num');
      td(tr, num(t.delayed), 'num');
      td(tr, num(t.processing), 'num');
      td(tr, num(t.dead_letters !== null && t.dead_letters !== undefined ? t.dead_letters : t.dead_letter_total), 'num');
      td(tr, rate(t.consume_rate), 'num');
      td(tr, rate(t.failure_rate), 'num');
      td(tr, rate(t.dlq_rate), 'num');
      td(tr, pct(t.success_ratio), 'num');
      td(tr, age(t.oldest_pending_age_seconds), 'num');
      var paused = td(tr);
      if (t.paused === null || t.paused === undefined) paused.textContent = DASH;
      else if (t.paused) { var b = document.createElement('span'); b.className = 'badge warn'; b.textContent = 'paused'; paused.appendChild(b); }
      else paused.textContent = 'no';
      rows.appendChild(tr);
    });
    if (topics.length === 0) {
      var tr = document.createElement('tr');
      tr.className = 'empty';
      var cell = td(tr, 'No topics yet.');
      cell.colSpan = 11;
      rows.appendChild(tr);
    }
    tbody.textContent = '';
    tbody.appendChild(rows);
  }

  function initOverview() {
    var status = document.getElementById('live-status');
    var table = document.getElementById('topics');
    var labels = { '1h': 'hour', '1d': 'day', '1w': 'week' };
    var win = '1h';
    var lastCharts = null;
    var updates = 0;

    function ok() {
      updates++;
      body.dataset.updates = String(updates);
      if (status) {
        status.textContent = 'live · updated ' + new Date().toLocaleTimeString();
        status.classList.remove('stale');
      }
    }
    function fail(e) {
      if (status) {
        status.textContent = 'update failed: ' + e.message;
        status.classList.add('stale');
      }
    }
    function drawCharts() {
      if (!lastCharts) return;
      lastCharts.charts.forEach(function (c) {
        var fig = document.getElementById('chart-' + c.key);
        if (fig) window.MqChart.render(fig.querySelector('.plot'), c);
      });
    }
    function loadCharts() {
      return getJSON('/api/charts?window=' + encodeURIComponent(win)).then(function (data) {
        lastCharts = data;
        drawCharts();
      });
    }
    function loadTopics() {
      if (!table) return Promise.resolve();
      return getJSON(table.dataset.api).then(function (topics) { renderTopics(table, topics); });
    }
    function update() {
      Promise.all([loadCharts(), loadTopics()]).then(ok, fail);
    }

    document.querySelectorAll('button[data-window]').forEach(function (button, _, all) {
      button.addEventListener('click', function () {
        win = button.dataset.window;
        all.forEach(function (b) { b.classList.toggle('current', b === button); });
        var label = document.getElementById('window-label');
        if (label) label.textContent = labels[win] || win;
        loadCharts().then(ok, fail);
      });
    });
    var resizeTimer = null;
    window.addEventListener('resize', function () {
      clearTimeout(resizeTimer);
      resizeTimer = setTimeout(drawCharts, 150);
    });
    update();
    setInterval(function () {
      if (!document.hidden) update();
    }, refreshMs);
  }

  function initDeadLetters() {
    var all = document.getElementById('select-all');
    if (!all) return;
    all.addEventListener('change', function () {
      document.querySelectorAll('#dead-letters input[name="id"]').forEach(function (box) { box.checked = all.checked; });
    });
  }

  if (page === 'overview') initOverview();
  if (page === 'dead-letters') initDeadLetters();
})();
