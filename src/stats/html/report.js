/*
 * report.js - draws the chorus-stats report from the statistics document
 * embedded in the page (docs/stats-json.md): totals, charts as inline
 * SVG, sortable tables, a per-node drill-down, and filters (date range,
 * nodes, status, path prefix) that recompute everything from the
 * document's per-day figures. Plain browser JavaScript, no library; it
 * needs no network and works from file://.
 *
 * Every string of the document reaches the page as a text node or an
 * attribute value (never as markup), since paths, referrers and agents
 * come from whoever sent the requests.
 */
"use strict";

(function () {
	const doc = JSON.parse(document.getElementById("stats-data").textContent);
	const days = doc.days || [];
	const nodes = doc.nodes || [];
	const tables = doc.tables || {};
	const first = (doc.range && doc.range.first) || null;
	const last = (doc.range && doc.range.last) || null;
	const COUNTS = ["requests", "bytes", "visitors", "pages", "static", "s2xx",
		"s3xx", "s4xx", "s5xx", "sother", "not_found"];

	/* The view: what the filters select, which node is drilled into,
	 * which table is shown, and each table's sort order. */
	const view = { from: first, to: last, nodes: [], status: "", prefix: "",
		drill: null, table: null, sort: new Map(), expanded: new Map() };

	/* ---- DOM helpers: text is always a text node ---- */

	function setAttrs(e, attrs) {
		for (const [k, v] of Object.entries(attrs || {})) {
			if (v === null || v === undefined || v === false)
				continue;
			if (k.startsWith("on"))
				e.addEventListener(k.slice(2), v);
			else
				e.setAttribute(k, v === true ? "" : String(v));
		}
	}
	function add(e, kids) {
		for (const k of kids.flat(Infinity)) {
			if (k === null || k === undefined || k === false)
				continue;
			e.append(k instanceof Node ? k : document.createTextNode(String(k)));
		}
		return e;
	}
	/* Replaces the children of e with kids (nulls skipped). */
	function fill(e, ...kids) {
		e.replaceChildren();
		return add(e, kids);
	}
	function h(tag, attrs, ...kids) {
		const e = document.createElement(tag);
		setAttrs(e, attrs);
		return add(e, kids);
	}
	function s(tag, attrs, ...kids) {
		const e = document.createElementNS("http://www.w3.org/2000/svg", tag);
		setAttrs(e, attrs);
		return add(e, kids);
	}

	/* ---- numbers ---- */

	const nf = new Intl.NumberFormat("en-US");
	const fmtInt = (n) => nf.format(n);
	const UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
	function bytesUnit(n) {
		let k = 0;
		while (n >= 1024 && k < UNITS.length - 1) {
			n /= 1024;
			k++;
		}
		return k;
	}
	function fmtBytes(n) {
		const k = bytesUnit(n), v = n / Math.pow(1024, k);
		return (k === 0 ? String(n) : v.toFixed(v < 10 ? 2 : v < 100 ? 1 : 0)) + " " + UNITS[k];
	}
	function fmtShort(n) {
		const a = Math.abs(n);
		if (a >= 1e9) return +(n / 1e9).toFixed(1) + "G";
		if (a >= 1e6) return +(n / 1e6).toFixed(1) + "M";
		if (a >= 1e3) return +(n / 1e3).toFixed(1) + "k";
		return String(+n.toFixed(2));
	}
	const fmtPct = (a, b) => (b > 0 ? (100 * a / b).toFixed(1) + " %" : "–");

	/* A tick step of 1, 2 or 5 times a power of ten, near raw. */
	function niceStep(raw) {
		if (!(raw > 0))
			return 1;
		const p = Math.pow(10, Math.floor(Math.log10(raw)));
		for (const m of [1, 2, 5])
			if (m * p >= raw)
				return m * p;
		return 10 * p;
	}

	/* ---- dates (UTC arithmetic on "YYYY-MM-DD") ---- */

	function nextDate(d) {
		const t = new Date(d + "T00:00:00Z");
		t.setUTCDate(t.getUTCDate() + 1);
		return t.toISOString().slice(0, 10);
	}
	/* Every date from a to b, at most 3660 of them. */
	function dateSeq(a, b) {
		const out = [];
		for (let d = a; d <= b && out.length < 3660; d = nextDate(d))
			out.push(d);
		return out;
	}

	/* ---- the selection ---- */

	const inRange = (date) => (!view.from || date >= view.from) && (!view.to || date <= view.to);
	const rangeOk = () => !view.from || !view.to || view.from <= view.to;
	const wholeRange = () => (!view.from || view.from <= first) && (!view.to || view.to >= last);
	const nodeFilter = () => view.nodes.length > 0;

	function zero() {
		const c = {};
		for (const k of COUNTS)
			c[k] = 0;
		return c;
	}
	function sumCounts(list) {
		const t = zero();
		for (const c of list)
			for (const k of COUNTS)
				t[k] += c[k] || 0;
		return t;
	}
	const selDays = () => (rangeOk() ? days.filter((d) => inRange(d.date)) : []);
	const selNodes = () => (nodeFilter() ? nodes.filter((n) => view.nodes.includes(n.node)) : nodes);
	const nodeDays = (n) => (rangeOk() ? (n.days || []).filter((d) => inRange(d.date)) : []);

	/* The status filter: codes ("404") and classes ("5xx"), comma or
	 * space separated, as on the command line. Returns a predicate on a
	 * code, null for no filter, or a string saying what is wrong. */
	function statusFilter() {
		const words = view.status.split(/[\s,]+/).filter((w) => w);
		if (!words.length)
			return null;
		const bad = words.filter((w) => !/^(\d{1,3}|[1-5]xx)$/i.test(w));
		if (bad.length)
			return "not a status code or class: " + bad.join(", ");
		return (code) => words.some((w) => /xx$/i.test(w)
			? Math.floor(code / 100) === +w[0] : +w === code);
	}
	function statusRequests(statuses, pred) {
		let n = 0;
		for (const [code, r] of Object.entries(statuses || {}))
			if (pred(+code))
				n += r;
		return n;
	}

	/* The counts of one date (or of the whole selection when date is
	 * null) under the filters; members the document cannot give under
	 * them are null. */
	function countsOf(date) {
		const pick = (list) => list.filter((d) => (date === null ? inRange(d.date) : d.date === date));
		const st = statusFilter();
		let c;
		if (!rangeOk())
			return zero();
		if (nodeFilter())
			c = sumCounts(selNodes().flatMap((n) => pick(n.days || [])));
		else
			c = sumCounts(pick(days));
		if (typeof st === "function") {
			const r = nodeFilter() ? null
				: pick(days).reduce((a, d) => a + statusRequests(d.statuses, st), 0);
			for (const k of COUNTS)
				c[k] = null;
			c.requests = r;
		}
		return c;
	}

	/* ---- charts ---- */

	/* A column chart of values (numbers, or null where unknown) over
	 * labels. opts: bytes (axis in byte units), cls, short (a label's
	 * short form). */
	function columnChart(caption, labels, values, opts) {
		opts = opts || {};
		const W = 440, H = 190, L = 54, R = 6, T = 10, B = 24;
		const pw = W - L - R, ph = H - T - B, n = labels.length;
		const known = values.filter((v) => v !== null);
		if (!n || !known.some((v) => v > 0))
			return h("figure", {}, h("figcaption", {}, caption), h("p", { class: "empty" },
				n && !known.length ? "Not available under these filters." : "No data in this range."));
		const max = Math.max(1, ...known);
		const unit = opts.bytes ? Math.pow(1024, bytesUnit(max)) : 1;
		const step = niceStep(max / unit / 4) * unit;
		const top = Math.ceil(max / step) * step;
		const fmt = opts.bytes ? fmtBytes : fmtShort;
		const g = s("svg", { class: "chart", viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": caption });
		for (let v = 0; v <= top + step / 2; v += step) {
			const y = T + ph - ph * v / top;
			g.append(s("line", { class: "grid", x1: L, x2: W - R, y1: y, y2: y }),
				s("text", { x: L - 6, y: y + 4, "text-anchor": "end" }, fmt(v)));
		}
		const slot = pw / n, bw = Math.max(1, slot * 0.78);
		const every = Math.ceil(n / Math.max(1, Math.floor(pw / (opts.labelWidth || 46))));
		labels.forEach((label, i) => {
			const v = values[i], x = L + i * slot + (slot - bw) / 2;
			if (v !== null && v > 0) {
				const bh = Math.max(1, ph * v / top);
				g.append(s("rect", { class: "bar " + (opts.cls || ""), x: x, y: T + ph - bh, width: bw, height: bh },
					s("title", {}, `${label}: ${opts.bytes ? fmtBytes(v) + " (" + fmtInt(v) + " bytes)" : fmtInt(v)}`)));
			}
			if (i % every === 0)
				g.append(s("text", { x: x + bw / 2, y: H - 9, "text-anchor": "middle" },
					opts.short ? opts.short(label) : label));
		});
		return h("figure", {}, h("figcaption", {}, caption), g);
	}

	/* A horizontal bar chart of items {label, value, cls, onclick}. */
	function barChart(caption, items, opts) {
		opts = opts || {};
		const W = 560, rowH = 22, L = opts.labelWidth || 110, R = 80, H = items.length * rowH + 6;
		const maxChars = Math.floor(L / 6.2);
		if (!items.length)
			return h("figure", {}, h("figcaption", {}, caption), h("p", { class: "empty" }, "No data in this range."));
		const max = Math.max(1, ...items.map((it) => it.value));
		const fmt = opts.bytes ? fmtBytes : fmtInt;
		const g = s("svg", { class: "chart", viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": caption });
		items.forEach((it, i) => {
			const y = 3 + i * rowH, bw = Math.max(1, (W - L - R) * it.value / max);
			const label = it.label.length > maxChars ? it.label.slice(0, maxChars - 1) + "…" : it.label;
			const row = s("g", { style: it.onclick ? "cursor:pointer" : null, onclick: it.onclick },
				s("title", {}, `${it.label}: ${fmt(it.value)}`),
				s("text", { x: L - 8, y: y + 15, "text-anchor": "end" }, label),
				s("rect", { class: "bar " + (it.cls || ""), x: L, y: y + 3, width: it.value > 0 ? bw : 0, height: rowH - 7, rx: 2 }),
				s("text", { class: "value", x: L + (it.value > 0 ? bw : 0) + 6, y: y + 15 }, fmt(it.value)));
			g.append(row);
		});
		return h("figure", {}, h("figcaption", {}, caption), g);
	}

	/* ---- sortable tables ---- */

	/* A table of rows (objects) under columns {key, label, num, fmt,
	 * cls}; id names its sort order in view.sort. A click on a header
	 * sorts by that column, a second click reverses; the "other" row
	 * stays last. The first 25 rows are shown until the reader asks for
	 * all of them. */
	function sortedTable(id, columns, rows, other) {
		const table = h("table", { "data-table": id });
		const tbody = h("tbody");
		const heads = columns.map((c) => h("th", { class: c.num ? "num" : null, scope: "col", tabindex: 0,
			title: "Sort by " + c.label }, c.label));
		function fill() {
			const st = view.sort.get(id), limit = view.expanded.get(id) ? Infinity : 25;
			let list = rows;
			if (st) {
				const col = columns[st.col], dir = st.dir === "ascending" ? 1 : -1;
				const val = (r) => r[col.key];
				list = rows.slice().sort((a, b) => {
					const x = val(a), y = val(b);
					if (col.num)
						return dir * ((x === null || x === undefined ? -1 : x) - (y === null || y === undefined ? -1 : y));
					return dir * (String(x) < String(y) ? -1 : String(x) > String(y) ? 1 : 0);
				});
			}
			heads.forEach((th, i) => th.setAttribute("aria-sort", st && st.col === i ? st.dir : "none"));
			const trs = list.slice(0, limit).map((r) => h("tr", {}, columns.map((c) => cell(c, r))));
			if (list.length > 25) {
				const more = view.expanded.get(id);
				trs.push(h("tr", { class: "more" }, h("td", { colspan: columns.length },
					h("button", { class: "link", "data-more": id, onclick: () => {
						view.expanded.set(id, !more);
						fill();
					} }, more ? "Show the first 25 rows" : `Show all ${fmtInt(list.length)} rows`))));
			}
			if (other)
				trs.push(h("tr", { class: "other" }, columns.map((c, i) => cell(c, other, i === 0))));
			if (!rows.length && !other)
				trs.push(h("tr", { class: "more" }, h("td", { colspan: columns.length, class: "empty" }, "No rows.")));
			tbody.replaceChildren(...trs);
		}
		heads.forEach((th, i) => {
			const sortBy = () => {
				const st = view.sort.get(id);
				const dir = st && st.col === i ? (st.dir === "ascending" ? "descending" : "ascending")
					: (columns[i].num ? "descending" : "ascending");
				view.sort.set(id, { col: i, dir: dir });
				fill();
			};
			th.addEventListener("click", sortBy);
			th.addEventListener("keydown", (e) => {
				if (e.key === "Enter" || e.key === " ") {
					e.preventDefault();
					sortBy();
				}
			});
		});
		fill();
		return h("div", { class: "tablewrap" }, add(table, [h("thead", {}, h("tr", {}, heads)), tbody]));
	}
	function cell(c, r, isOtherLabel) {
		if (isOtherLabel)
			return h("td", {}, "other");
		const v = r[c.key];
		if (v === undefined || v === null)
			return h("td", { class: c.num ? "num" : null }, c.num ? "–" : "");
		const td = h("td", { class: c.cls || (c.num ? "num" : null), "data-value": v },
			c.fmt ? c.fmt(v, r) : c.num ? fmtInt(v) : String(v));
		if (c.num && c.fmt === fmtBytes)
			td.title = fmtInt(v) + " bytes";
		return td;
	}

	/* ---- ranked tables over the selection ---- */

	/* The rows of a ranked table for the date range: the whole-range
	 * rows, or the per-day rows of the range merged by key (and by the
	 * other string members, e.g. a 404's referrer). approx tells when a
	 * merged count may be low. */
	function rankedRows(t) {
		if (wholeRange())
			return { rows: t.rows || [], other: t.other, approx: t.max_error > 0, merged: false };
		const byKey = new Map(), other = { requests: 0, bytes: 0 };
		let approx = t.max_error > 0;
		for (const d of t.days || []) {
			if (!rangeOk() || !inRange(d.date))
				continue;
			other.requests += d.other ? d.other.requests : 0;
			other.bytes += d.other ? d.other.bytes : 0;
			if (d.other && d.other.requests > 0)
				approx = true;
			for (const r of d.rows || []) {
				const id = JSON.stringify(Object.entries(r).filter(([, v]) => typeof v === "string"));
				const m = byKey.get(id);
				if (!m) {
					byKey.set(id, Object.assign({}, r));
					continue;
				}
				for (const [k, v] of Object.entries(r))
					if (typeof v === "number")
						m[k] = (m[k] || 0) + v;
			}
		}
		const rows = [...byKey.values()].sort((a, b) => b.requests - a.requests ||
			(a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
		return { rows: rows, other: other, approx: approx, merged: true };
	}

	const KEY_LABEL = { path: "Path", directory: "Directory", referrer: "Referrer", site: "Site",
		browser: "Browser", os: "Operating system", tool: "Tool", crawler: "Crawler",
		class: "Class", user_agent: "User agent", release: "Release" };
	const TABLE_ORDER = ["paths", "directories", "pages", "static", "not_found",
		"not_found_referrers", "referrers", "sites", "browsers", "os", "tools",
		"crawlers", "agent_classes", "user_agents"];

	/* The table element and its notes for the table named name. */
	function rankedTable(name, t, extra, noKey) {
		const sel = rankedRows(t);
		const byPath = t.key === "path" || t.key === "directory";
		let rows = sel.rows, other = sel.other;
		const notes = [];
		if (view.prefix && byPath) {
			rows = rows.filter((r) => r.key.startsWith(view.prefix));
			other = null;
			notes.push(`Only ${t.key === "path" ? "paths" : "directories"} starting with “${view.prefix}”.`);
		}
		const total = sel.rows.reduce((a, r) => a + r.requests, 0) + (sel.other ? sel.other.requests : 0);
		const cols = (noKey ? [] : [{ key: "key", label: KEY_LABEL[t.key] || t.key, cls: "key" }])
			.concat(extra || [])
			.concat([
				{ key: "requests", label: "Requests", num: true },
				{ key: "requests", label: "Share", num: true, fmt: (v) => fmtPct(v, total) },
				{ key: "bytes", label: "Bytes", num: true, fmt: fmtBytes },
			]);
		if (rows.some((r) => r.error))
			cols.push({ key: "error", label: "Low by at most", num: true });
		if (sel.merged)
			notes.push(sel.approx
				? "Merged from the daily top rows of the range: a row that is not in every day's top rows counts low (its remainder is in “other”)."
				: "Merged from the daily rows of the range; exact.");
		else if (sel.approx)
			notes.push(`Counts may be low by at most ${fmtInt(t.max_error)} requests (bounded table).`);
		if (nodeFilter())
			notes.push("Tables cover every node: the document has them for the whole network only.");
		if (statusFilter())
			notes.push("Tables cover every status: the document has no status per table row.");
		notes.push(`${fmtInt(t.distinct || 0)} distinct ${(KEY_LABEL[t.key] || t.key).toLowerCase()} values${t.max_error > 0 ? " or more" : ""} over the whole report.`);
		return [sortedTable(name, cols, rows, other && other.requests ? other : null),
			notes.map((n) => h("p", { class: "note" }, n))];
	}

	/* ---- sections ---- */

	function kpi(id, label, value, fmt, detail) {
		return h("div", { class: "card kpi", "data-kpi": id, "data-value": value === null ? "" : value },
			h("div", { class: "label" }, label),
			h("div", { class: "value", title: value === null ? null : fmtInt(value) },
				value === null ? "–" : fmt(value)),
			detail ? h("div", { class: "detail" }, detail) : null);
	}

	function renderTotals(el) {
		const c = countsOf(null);
		const hosts = doc.totals && wholeRange() && !nodeFilter() && !statusFilter() ? doc.totals.hosts : null;
		const na = c.bytes === null ? "not by status" : null;
		fill(el, h("div", { class: "kpis" },
			kpi("requests", "Requests", c.requests, fmtInt),
			kpi("visitors", "Visitors", c.visitors, fmtInt, na || "address, day, agent"),
			kpi("bytes", "Traffic", c.bytes, fmtBytes, na),
			kpi("hosts", "Client addresses", hosts, fmtInt, hosts === null ? "whole report only"
				: doc.totals.hosts_exact === false ? "at least (too many to keep)" : null),
			kpi("pages", "Pages", c.pages, fmtInt, c.pages === null ? na : `${fmtInt(c.static)} static files`),
			kpi("not_found", "Not found (404)", c.not_found, fmtInt, c.not_found === null ? na : fmtPct(c.not_found, c.requests)),
			kpi("s5xx", "Server errors (5xx)", c.s5xx, fmtInt, c.s5xx === null ? na : fmtPct(c.s5xx, c.requests)),
			kpi("nodes", "Nodes", selNodes().length, fmtInt)));
	}

	function renderTraffic(el) {
		const dates = rangeOk() && days.length
			? dateSeq(view.from > first ? view.from : first, view.to < last ? view.to : last) : [];
		const per = dates.map((d) => countsOf(d));
		const short = (d) => d.slice(5);
		fill(el, h("div", { class: "grid2" },
			columnChart("Requests per day", dates, per.map((c) => c.requests), { short: short }),
			columnChart("Visitors per day", dates, per.map((c) => c.visitors), { short: short, cls: "s2" }),
			columnChart("Traffic per day", dates, per.map((c) => c.bytes), { short: short, bytes: true, cls: "s3" })));
	}

	function renderHours(el) {
		const labels = Array.from({ length: 24 }, (_, i) => String(i).padStart(2, "0"));
		const notes = [];
		let req = null, bytes = null, vis = null;
		if (nodeFilter()) {
			notes.push("Hours are not available per node in the document.");
		} else if (statusFilter()) {
			notes.push("Hours are not available per status in the document.");
		} else {
			const sel = selDays();
			req = labels.map((_, i) => sel.reduce((a, d) => a + ((d.hour_requests || [])[i] || 0), 0));
			bytes = labels.map((_, i) => sel.reduce((a, d) => a + ((d.hour_bytes || [])[i] || 0), 0));
			if (wholeRange() && doc.hours)
				vis = labels.map((_, i) => (doc.hours[i] ? doc.hours[i].visitors : 0));
			else
				notes.push("Visitors per hour are in the document for the whole report only.");
		}
		const none = labels.map(() => null);
		fill(el, h("div", { class: "grid2" },
			columnChart("Requests per hour of day", labels, req || none, { labelWidth: 24 }),
			columnChart("Visitors per hour of day (first request)", labels, vis || none, { labelWidth: 24, cls: "s2" }),
			columnChart("Traffic per hour of day", labels, bytes || none, { labelWidth: 24, bytes: true, cls: "s3" })),
		notes.map((n) => h("p", { class: "note" }, n)));
	}

	function renderStatus(el) {
		const st = statusFilter(), byCode = new Map();
		for (const d of selDays())
			for (const [code, r] of Object.entries(d.statuses || {}))
				if (typeof st !== "function" || st(+code))
					byCode.set(+code, (byCode.get(+code) || 0) + r);
		const items = [...byCode.entries()].sort((a, b) => a[0] - b[0]).map(([code, r]) => ({
			label: code === 0 ? "(none)" : String(code), value: r,
			cls: code >= 500 || code === 0 ? "bad" : code >= 400 ? "s3" : code >= 300 ? "s2" : "" }));
		const c = countsOf(null);
		const classes = nodeFilter() || typeof st === "function" ? [] : [["2xx", c.s2xx, "", null], ["3xx", c.s3xx, "s2"],
			["4xx", c.s4xx, "s3"], ["5xx", c.s5xx, "bad"], ["other", c.sother, "bad"]]
			.map(([label, v, cls]) => ({ label: label, value: v, cls: cls }));
		fill(el, h("div", { class: "grid2" },
			barChart("Requests by status code", items),
			classes.length ? barChart("Requests by status class", classes) : h("div")),
		nodeFilter() ? h("p", { class: "note" }, "Status codes cover every node: the document has them for the whole network only.") : null);
	}

	function renderNodes(el) {
		const rows = selNodes().map((n) => Object.assign({ node: n.node }, sumCounts(nodeDays(n))));
		const total = rows.reduce((a, r) => a + r.requests, 0);
		const drill = (name) => () => {
			view.drill = view.drill === name ? null : name;
			render();
			const d = document.getElementById("drill");
			if (d)
				d.scrollIntoView({ block: "nearest" });
		};
		const cols = [
			{ key: "node", label: "Node", fmt: (v) => h("button", { class: "link", onclick: drill(v) }, v) },
			{ key: "requests", label: "Requests", num: true },
			{ key: "requests", label: "Share", num: true, fmt: (v) => fmtPct(v, total) },
			{ key: "visitors", label: "Visitors", num: true },
			{ key: "bytes", label: "Bytes", num: true, fmt: fmtBytes },
			{ key: "pages", label: "Pages", num: true },
			{ key: "static", label: "Static", num: true },
			{ key: "not_found", label: "404", num: true },
			{ key: "s5xx", label: "5xx", num: true },
		];
		fill(el, 
			h("div", { class: "grid2" },
				barChart("Requests per node", rows.map((r) => ({ label: r.node, value: r.requests, onclick: drill(r.node) }))),
				barChart("Traffic per node", rows.map((r) => ({ label: r.node, value: r.bytes, cls: "s3", onclick: drill(r.node) })), { bytes: true })),
			h("div", { class: "card" }, sortedTable("nodes", cols, rows, null),
				h("p", { class: "note" }, "Click a node for its days and most requested paths.")),
			renderDrill());
	}

	function renderDrill() {
		const n = nodes.find((x) => x.node === view.drill);
		if (!n)
			return null;
		const nd = nodeDays(n), c = sumCounts(nd);
		const byDate = new Map(nd.map((d) => [d.date, d]));
		const dates = nd.length ? dateSeq(nd[0].date, nd[nd.length - 1].date) : [];
		const v = (k) => dates.map((d) => (byDate.has(d) ? byDate.get(d)[k] : 0));
		const short = (d) => d.slice(5);
		return h("div", { class: "card drill", id: "drill" },
			h("h3", {}, "Node " + n.node),
			h("div", { class: "kpis" },
				kpi("node-requests", "Requests", c.requests, fmtInt),
				kpi("node-visitors", "Visitors", c.visitors, fmtInt),
				kpi("node-bytes", "Traffic", c.bytes, fmtBytes),
				kpi("node-404", "Not found (404)", c.not_found, fmtInt, fmtPct(c.not_found, c.requests)),
				kpi("node-5xx", "Server errors (5xx)", c.s5xx, fmtInt, fmtPct(c.s5xx, c.requests))),
			h("div", { class: "grid2" },
				columnChart("Requests per day", dates, v("requests"), { short: short }),
				columnChart("Traffic per day", dates, v("bytes"), { short: short, bytes: true, cls: "s3" })),
			h("h3", {}, "Most requested paths on " + n.node),
			sortedTable("node-paths", [
				{ key: "key", label: "Path", cls: "key" },
				{ key: "requests", label: "Requests", num: true },
				{ key: "bytes", label: "Bytes", num: true, fmt: fmtBytes },
			].concat((n.top_paths || []).some((r) => r.error) ? [{ key: "error", label: "Low by at most", num: true }] : []),
			n.top_paths || [], null),
			h("p", { class: "note" }, "Paths over the whole report (the document has no per-day paths per node)."),
			h("p", {}, h("button", { class: "link", onclick: () => { view.nodes = [n.node]; syncInputs(); render(); } },
				"Show only this node"), " · ",
			h("button", { class: "link", onclick: () => { view.drill = null; render(); } }, "Close")));
	}

	function renderReleases(el) {
		const t = tables.releases;
		if (!t) {
			fill(el, h("p", { class: "empty" }, "No release patterns matched (or the log format has no paths)."));
			return;
		}
		const sel = rankedRows(t), byRel = new Map();
		for (const r of sel.rows) {
			const m = byRel.get(r.release) || { key: r.release, images: 0, requests: 0, ok: 0, bytes: 0 };
			m.images++;
			m.requests += r.requests;
			m.ok += r.ok || 0;
			m.bytes += r.bytes;
			byRel.set(r.release, m);
		}
		const rels = [...byRel.values()].sort((a, b) => (a.key < b.key ? 1 : a.key > b.key ? -1 : 0));
		const images = sel.rows.slice().sort((a, b) => (b.ok || 0) - (a.ok || 0)).slice(0, 12);
		fill(el, 
			h("div", { class: "grid2" },
				barChart("Successful downloads per release", rels.map((r) => ({ label: r.key, value: r.ok, cls: "s2" }))),
				barChart("Top images by successful downloads (release · image (kind))", images.map((r) => ({ label: r.release + " · " + r.image + " (" + r.kind + ")", value: r.ok || 0 })),
					{ labelWidth: 200 })),
			h("div", { class: "card" },
				sortedTable("release-summary", [
					{ key: "key", label: "Release", cls: "key" },
					{ key: "images", label: "Images", num: true },
					{ key: "requests", label: "Requests", num: true },
					{ key: "ok", label: "Downloads (200/206)", num: true },
					{ key: "bytes", label: "Bytes", num: true, fmt: fmtBytes },
				], rels, null),
				h("p", { class: "note" }, "Downloads count requests answered with status 200 or 206.")),
			h("div", { class: "card" }, rankedTable("releases", t, [
				{ key: "release", label: "Release" },
				{ key: "image", label: "Image", cls: "key" },
				{ key: "kind", label: "Kind" },
				{ key: "ok", label: "Downloads", num: true },
			], true)));
	}

	function renderTables(el) {
		const names = TABLE_ORDER.filter((n) => tables[n])
			.concat(Object.keys(tables).filter((n) => !TABLE_ORDER.includes(n) && n !== "releases"));
		if (!names.length) {
			fill(el, h("p", { class: "empty" }, "The document has no tables."));
			return;
		}
		if (!names.includes(view.table))
			view.table = names[0];
		const extra = { not_found_referrers: [{ key: "referrer", label: "Referrer", cls: "key" }] };
		const t = tables[view.table];
		fill(el, 
			h("div", { class: "tabs", role: "group" }, names.map((n) => h("button", {
				"aria-pressed": n === view.table ? "true" : "false", "data-tab": n,
				onclick: () => { view.table = n; render(); } }, tables[n].title || n))),
			h("div", { class: "card" }, h("h3", {}, t.title || view.table),
				rankedTable(view.table, t, Object.hasOwn(extra, view.table) ? extra[view.table] : null)));
	}

	function facts(pairs) {
		return h("dl", { class: "facts" }, pairs.filter((p) => p[1] !== undefined && p[1] !== null)
			.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
	}

	function renderMethod(el) {
		const m = doc.method || {}, v = m.visitors || {}, t = m.tables || {};
		const inp = doc.inputs || {}, f = doc.filters || {};
		const list = (a) => (a && a.length ? a.join(", ") : "none");
		fill(el, h("div", { class: "grid2" },
			h("div", { class: "card" }, h("h3", {}, "Visitors"),
				h("p", {}, v.statement || "The document does not say how visitors were counted."),
				facts([["Method", v.method], ["Open days", v.window_days],
					["Late lines (no visitors)", v.late_lines !== undefined ? fmtInt(v.late_lines) : null],
					["Lines with hashed agents", v.agent_overflow !== undefined ? fmtInt(v.agent_overflow) : null],
					["Lines with hashed host names", v.host_hashed !== undefined ? fmtInt(v.host_hashed) : null]]),
				v.late_lines > 0 || v.agent_overflow > 0
					? h("p", { class: "note warn" }, "Some visitor counts are approximate, as stated above.") : null),
			h("div", { class: "card" }, h("h3", {}, "Tables"),
				h("p", {}, t.statement || "The document does not say how its tables were counted."),
				facts([["Rows per table", t.top], ["Rows per day", t.day_top], ["Paths per node", t.node_top],
					["Keys kept", t.capacity !== undefined ? fmtInt(t.capacity) : null],
					["Keys kept per day", t.day_capacity !== undefined ? fmtInt(t.day_capacity) : null]])),
			h("div", { class: "card" }, h("h3", {}, "Input"),
				facts([["Files read", inp.files !== undefined ? fmtInt(inp.files) : null],
					["Lines", inp.lines !== undefined ? fmtInt(inp.lines) : null],
					["Bytes", inp.bytes !== undefined ? fmtBytes(inp.bytes) : null],
					["Filtered out", inp.filtered_out !== undefined ? fmtInt(inp.filtered_out) : null],
					["State file", inp.state === undefined ? null : inp.state ? "yes (whole history)" : "no"],
					["Command-line filters", [f.from ? "from " + f.from : null, f.to ? "to " + f.to : null,
						"nodes: " + list(f.node), "status: " + list(f.status), "path prefix: " + list(f.path_prefix)]
						.filter((x) => x).join("; ")]]))));
	}

	function renderMalformed(el) {
		const m = doc.malformed || { lines: 0 };
		const reasons = Object.entries(m.reasons || {}).map(([k, n]) => ({ reason: k, lines: n }));
		const lines = (doc.inputs && doc.inputs.lines) || 0;
		fill(el, 
			h("p", {}, `${fmtInt(m.lines || 0)} lines could not be parsed`,
				lines ? ` (${fmtPct(m.lines || 0, lines)} of ${fmtInt(lines)} lines read)` : "",
				"; they are counted here only."),
			reasons.length ? h("div", { class: "grid2" },
				h("div", { class: "card" }, sortedTable("malformed-reasons", [
					{ key: "reason", label: "Reason" }, { key: "lines", label: "Lines", num: true }], reasons, null)),
				barChart("Malformed lines by reason", reasons.map((r) => ({ label: r.reason, value: r.lines, cls: "bad" })))) : null,
			(m.examples || []).length ? h("div", { class: "card" }, h("h3", {}, "Examples"),
				sortedTable("malformed-examples", [
					{ key: "source", label: "Where", cls: "key" },
					{ key: "reason", label: "Reason" },
					{ key: "line", label: "Line", fmt: (v) => h("pre", { class: "line" }, v === "" ? "(empty line)" : v) },
				], m.examples, null)) : null);
	}

	/* ---- page and filters ---- */

	const SECTIONS = [
		["totals", "Overview", renderTotals],
		["traffic", "Days", renderTraffic],
		["hours", "Hours", renderHours],
		["status", "Status codes", renderStatus],
		["nodes", "Nodes", renderNodes],
		["releases", "Releases", renderReleases],
		["tables", "Tables", renderTables],
		["method", "Method and input", renderMethod],
		["malformed", "Malformed lines", renderMalformed],
	];
	const bodies = {};
	const inputs = {};
	const filterNotes = h("div");

	function render() {
		const notes = [];
		if (!rangeOk())
			notes.push(h("p", { class: "note bad" }, "The start of the range is after its end."));
		if (!wholeRange() && rangeOk())
			notes.push(h("p", { class: "note" }, `Showing ${view.from || first} to ${view.to || last}; totals are sums of the days of the range.`));
		if (typeof statusFilter() === "string")
			notes.push(h("p", { class: "note bad" }, "Status filter: " + statusFilter()));
		else if (statusFilter())
			notes.push(h("p", { class: "note" }, "With a status filter the document gives requests only (no bytes or visitors per status)" +
				(nodeFilter() ? ", and no status per node." : ".")));
		filterNotes.replaceChildren(...notes);
		for (const [id, , fn] of SECTIONS)
			fn(bodies[id]);
	}

	function syncInputs() {
		inputs.from.value = view.from || "";
		inputs.to.value = view.to || "";
		for (const o of inputs.nodes.options)
			o.selected = view.nodes.includes(o.value);
		inputs.status.value = view.status;
		inputs.prefix.value = view.prefix;
	}

	function filterBar() {
		const onDate = () => {
			view.from = inputs.from.value || first;
			view.to = inputs.to.value || last;
			render();
		};
		inputs.from = h("input", { type: "date", id: "from", min: first, max: last, onchange: onDate });
		inputs.to = h("input", { type: "date", id: "to", min: first, max: last, onchange: onDate });
		inputs.nodes = h("select", { id: "node", multiple: true, size: Math.min(4, Math.max(2, nodes.length)),
			onchange: () => {
				view.nodes = [...inputs.nodes.selectedOptions].map((o) => o.value);
				render();
			} }, nodes.map((n) => h("option", { value: n.node }, n.node)));
		inputs.status = h("input", { type: "text", id: "status", placeholder: "e.g. 404, 5xx", size: 12,
			oninput: () => { view.status = inputs.status.value.trim(); render(); } });
		inputs.prefix = h("input", { type: "text", id: "prefix", placeholder: "e.g. /debian/", size: 18,
			oninput: () => { view.prefix = inputs.prefix.value; render(); } });
		const reset = h("button", { type: "button", id: "reset", onclick: () => {
			Object.assign(view, { from: first, to: last, nodes: [], status: "", prefix: "" });
			syncInputs();
			render();
		} }, "Reset");
		return h("div", { class: "card" },
			h("div", { class: "filters" },
				h("label", {}, "From", inputs.from), h("label", {}, "To", inputs.to),
				h("label", {}, "Nodes (none: all)", inputs.nodes),
				h("label", {}, "Status", inputs.status), h("label", {}, "Path prefix", inputs.prefix), reset),
			filterNotes);
	}

	function page() {
		const app = document.getElementById("app");
		const title = doc.title || "Access statistics";
		document.title = title;
		const sub = [first ? `${first} to ${last}` : "no lines counted",
			doc.generated ? "generated " + doc.generated.replace("T", " ").replace("Z", " UTC") : null,
			doc.generator || null].filter((x) => x).join(" · ");
		const warn = doc.schema !== "chorus-stats" || doc.version !== 1
			? h("p", { class: "note warn" }, `This page reads version 1 of the chorus-stats document; this one says ${doc.schema} ${doc.version}.`) : null;
		app.append(
			h("header", { class: "top" }, h("h1", {}, title), h("div", { class: "sub" }, sub), warn,
				h("nav", { class: "sections" }, SECTIONS.map(([id, label]) => h("a", { href: "#" + id }, label)))),
			h("main", {}, h("section", { id: "filters" }, filterBar()),
				SECTIONS.map(([id, label]) => {
					bodies[id] = h("div", { class: "stack" });
					return h("section", { id: id }, id === "totals" ? null : h("h2", {}, label), bodies[id]);
				})));
		syncInputs();
		render();
	}

	page();
})();
