// A small SVG line chart for the overview: time on x, values on y, one path per series with
// gaps where a value is missing, a legend with the latest values, and a hover read-out.
// No library; only DOM calls (the page's Content-Security-Policy allows no inline code).
(function () {
  'use strict';

  var SVG = 'http://www.w3.org/2000/svg';
  var HEIGHT = 220;
  var MARGIN = { left: 52, right: 14, top: 10, bottom: 24 };

  function svg(name, attrs, parent) {
    var node = document.createElementNS(SVG, name);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (parent) parent.appendChild(node);
    return node;
  }

  function html(name, className, parent, text) {
    var node = document.createElement(name);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    if (parent) parent.appendChild(node);
    return node;
  }

  // A step of 1, 2 or 5 times a power of ten giving about `count` ticks over `range`.
  function niceStep(range, count) {
    var raw = range / Math.max(1, count);
    var power = Math.pow(10, Math.floor(Math.log10(raw)));
    var f = raw / power;
    return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * power;
  }

  function formatValue(v) {
    if (v === null || v === undefined || !isFinite(v)) return '–';
    var a = Math.abs(v);
    if (a >= 1e6) return (v / 1e6).toFixed(a >= 1e7 ? 0 : 1) + 'M';
    if (a >= 1e4) return (v / 1e3).toFixed(a >= 1e5 ? 0 : 1) + 'k';
    if (a >= 100 || v === Math.round(v)) return String(Math.round(v));
    if (a >= 1) return v.toFixed(1);
    return v.toPrecision(2);
  }

  function pad(n) { return n < 10 ? '0' + n : String(n); }

  function formatTime(ms, spanMs) {
    var d = new Date(ms);
    var hm = pad(d.getHours()) + ':' + pad(d.getMinutes());
    return spanMs > 36 * 3600 * 1000 ? pad(d.getMonth() + 1) + '-' + pad(d.getDate()) + ' ' + hm : hm;
  }

  // chart: {timestamps: [RFC 3339], lines: [{name, values: [number|null]}], unit}
  function render(container, chart) {
    container.textContent = '';
    var width = Math.max(300, container.clientWidth || 600);
    var times = (chart.timestamps || []).map(function (t) { return Date.parse(t); });
    var lines = chart.lines || [];
    var values = [];
    lines.forEach(function (l) {
      l.values.forEach(function (v) { if (v !== null && isFinite(v)) values.push(v); });
    });
    var root = svg('svg', { viewBox: '0 0 ' + width + ' ' + HEIGHT, role: 'img', 'aria-label': chart.title || 'chart' }, container);
    var plotW = width - MARGIN.left - MARGIN.right;
    var plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
    svg('line', { class: 'axis', x1: MARGIN.left, y1: MARGIN.top + plotH, x2: MARGIN.left + plotW, y2: MARGIN.top + plotH }, root);

    if (values.length === 0 || times.length === 0) {
      var t = svg('text', { class: 'no-data', x: MARGIN.left + plotW / 2, y: MARGIN.top + plotH / 2, 'text-anchor': 'middle' }, root);
      t.textContent = 'No samples in this window yet';
      container.dataset.points = '0';
      legend(container, lines, null);
      return;
    }

    var yMax = Math.max.apply(null, values.concat([0]));
    var yMin = Math.min.apply(null, values.concat([0]));
    if (yMax === yMin) yMax = yMin + 1;
    var step = niceStep(yMax - yMin, 4);
    yMax = Math.ceil(yMax / step) * step;
    yMin = Math.floor(yMin / step) * step;
    var t0 = Math.min.apply(null, times);
    var t1 = Math.max.apply(null, times);
    if (t1 === t0) { t0 -= 30000; t1 += 30000; }
    var x = function (ms) { return MARGIN.left + (ms - t0) / (t1 - t0) * plotW; };
    var y = function (v) { return MARGIN.top + plotH - (v - yMin) / (yMax - yMin) * plotH; };

    for (var v = yMin; v <= yMax + step / 2; v += step) {
      svg('line', { class: 'grid-line', x1: MARGIN.left, y1: y(v), x2: MARGIN.left + plotW, y2: y(v) }, root);
      var label = svg('text', { x: MARGIN.left - 6, y: y(v) + 3.5, 'text-anchor': 'end' }, root);
      label.textContent = formatValue(v);
    }
    var ticks = Math.max(2, Math.min(6, Math.floor(plotW / 110)));
    for (var i = 0; i <= ticks; i++) {
      var ms = t0 + (t1 - t0) * i / ticks;
      var tl = svg('text', { x: x(ms), y: HEIGHT - 6, 'text-anchor': i === 0 ? 'start' : i === ticks ? 'end' : 'middle' }, root);
      tl.textContent = formatTime(ms, t1 - t0);
    }

    var drawn = 0;
    lines.forEach(function (line, n) {
      var d = '';
      var pen = false;
      line.values.forEach(function (val, k) {
        if (val === null || !isFinite(val) || isNaN(times[k])) { pen = false; return; }
        d += (pen ? 'L' : 'M') + x(times[k]).toFixed(1) + ' ' + y(val).toFixed(1);
        pen = true;
        drawn++;
      });
      if (d) svg('path', { class: 'series s' + (n % 6), d: d }, root).dataset.name = line.name;
      // A value with no neighbour would be an invisible path of one point: draw it as a dot.
      line.values.forEach(function (val, k) {
        var has = function (j) { var w = line.values[j]; return w !== null && w !== undefined && isFinite(w); };
        if (has(k) && !has(k - 1) && !has(k + 1) && !isNaN(times[k])) {
          svg('circle', { class: 'dot-point s' + (n % 6), cx: x(times[k]).toFixed(1), cy: y(val).toFixed(1), r: 2.5 }, root);
        }
      });
    });
    container.dataset.points = String(drawn);

    // Hover: a vertical line at the nearest sample and the values there.
    var hover = svg('line', { class: 'hover-line', x1: 0, x2: 0, y1: MARGIN.top, y2: MARGIN.top + plotH, visibility: 'hidden' }, root);
    var tip = html('div', 'tooltip hidden', container);
    root.addEventListener('mousemove', function (ev) {
      var box = root.getBoundingClientRect();
      var px = (ev.clientX - box.left) * width / box.width;
      var best = 0;
      for (var k = 1; k < times.length; k++) {
        if (Math.abs(x(times[k]) - px) < Math.abs(x(times[best]) - px)) best = k;
      }
      hover.setAttribute('x1', x(times[best]));
      hover.setAttribute('x2', x(times[best]));
      hover.setAttribute('visibility', 'visible');
      tip.textContent = '';
      html('div', '', tip, new Date(times[best]).toLocaleString());
      lines.forEach(function (line) { html('div', '', tip, line.name + ': ' + formatValue(line.values[best])); });
      tip.classList.remove('hidden');
      var left = (ev.clientX - box.left) + 12;
      tip.style.left = Math.min(left, box.width - 160) + 'px';
      tip.style.top = '10px';
    });
    root.addEventListener('mouseleave', function () {
      hover.setAttribute('visibility', 'hidden');
      tip.classList.add('hidden');
    });
    legend(container, lines, times.length);
  }

  function legend(container, lines, count) {
    var box = html('div', 'legend', container);
    lines.forEach(function (line, n) {
      var item = html('span', 's' + (n % 6), box);
      html('span', 'swatch', item);
      html('span', 'name', item, line.name);
      var last = null;
      for (var k = (line.values || []).length - 1; k >= 0; k--) {
        if (line.values[k] !== null && isFinite(line.values[k])) { last = line.values[k]; break; }
      }
      if (count) html('span', 'value', item, formatValue(last));
    });
  }

  window.MqChart = { render: render, formatValue: formatValue };
})();
