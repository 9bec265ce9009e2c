/* Yidi Ledger dashboard. One script for every page: <body data-page="..."> picks the page.
 * Each page polls its API endpoints every POLL_MS (the server's setting, or ?refresh_ms=) and
 * updates in place. Amounts arrive as integer fen and are formatted with BigInt arithmetic,
 * so no float rounding ever touches a yuan figure. */
"use strict";
(function () {
  const PAGE = document.body.dataset.page;
  const query = new URLSearchParams(location.search);
  const metaPoll = Number(document.querySelector('meta[name="yidi-poll-ms"]').content);
  const POLL_MS = Math.max(250, Number(query.get("refresh_ms")) || metaPoll || 2000);

  // -- formatting ------------------------------------------------------------------------
  const GROUP = /\B(?=(\d{3})+(?!\d))/g;
  function yuan(fen) {
    if (fen === null || fen === undefined) return "—";
    let v = BigInt(fen);
    const negative = v < 0n;
    if (negative) v = -v;
    const whole = (v / 100n).toString().replace(GROUP, ",");
    const cents = (v % 100n).toString().padStart(2, "0");
    return (negative ? "-" : "") + "¥" + whole + "." + cents;
  }
  function count(n) {
    return n === null || n === undefined ? "—" : BigInt(n).toString().replace(GROUP, ",");
  }
  function pct(p) {
    return p === null || p === undefined ? "—" : p.toFixed(2) + " %";
  }
  function yuanNumber(fen) { // for chart axes only; labels use yuan()
    return Number(fen) / 100;
  }
  function esc(s) {
    return String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
  }
  const PROVINCES = {
    "11": "北京", "12": "天津", "13": "河北", "14": "山西", "15": "内蒙古", "21": "辽宁", "22": "吉林",
    "23": "黑龙江", "31": "上海", "32": "江苏", "33": "浙江", "34": "安徽", "35": "福建", "36": "江西",
    "37": "山东", "41": "河南", "42": "湖北", "43": "湖南", "44": "广东", "45": "广西", "46": "海南",
    "50": "重庆", "51": "四川", "52": "贵州", "53": "云南", "54": "西藏", "61": "陕西", "62": "甘肃",
    "63": "青海", "64": "宁夏", "65": "新疆", "66": "兵团",
  };
  function place(code) {
    const name = PROVINCES[String(code).slice(0, 2)];
    return name ? `${name} <span class="muted">${esc(code)}</span>` : esc(code);
  }
  function pairLabel(insured, treatment) {
    const n = (c) => PROVINCES[String(c).slice(0, 2)] || c;
    // 省内异地 (two cities of one province): the codes say more than the name twice.
    return n(insured) === n(treatment) ? `${n(insured)} ${insured}→${treatment}` : `${n(insured)}→${n(treatment)}`;
  }
  const LEVEL = { ok: "正常 ok", warning: "预警 warning", emergency: "紧急 emergency" };
  const STATUS = {
    outstanding: "未划拨 outstanding", transferred: "已划拨 transferred", open: "待协查 open", closed: "已办结 closed",
    awaiting_clearing: "待清算 awaiting clearing", due: "待拨付 due", overdue: "逾期 overdue", paid: "已拨付 paid",
  };
  const INFNO = { "2207": "门诊 2207 outpatient", "2304": "住院 2304 inpatient", "2102": "药店 2102 pharmacy" };
  const COLORS = { ok: "#2e8b57", warning: "#d48806", emergency: "#c62828", accent: "#1f5fa8" };
  const INFNO_COLORS = { "2207": "#5b8fd6", "2304": "#17324f", "2102": "#3aa39a" };
  function tag(kind, labels) {
    return `<span class="tag ${esc(kind)}">${esc((labels || STATUS)[kind] || kind)}</span>`;
  }
  function day(t) { return t ? esc(String(t).slice(0, 10)) : "—"; }
  function stamp(t) { return t ? esc(String(t).slice(0, 16)) : "—"; }

  // -- fetching ---------------------------------------------------------------------------
  async function api(path, params) {
    const url = new URL(path, location.origin);
    for (const [k, v] of Object.entries(params || {})) {
      if (v === null || v === undefined || v === "") continue;
      for (const one of Array.isArray(v) ? v : [v]) url.searchParams.append(k, one);
    }
    const response = await fetch(url, { cache: "no-store", headers: { Accept: "application/json" } });
    if (!response.ok) throw new Error(`${url.pathname} → HTTP ${response.status}`);
    return response.json();
  }

  // -- building blocks ----------------------------------------------------------------------
  const $ = (selector, root) => (root || document).querySelector(selector);
  function setHTML(el, html) { if (el && el.innerHTML !== html) el.innerHTML = html; }
  function setText(selector, text) { const el = $(selector); if (el && el.textContent !== text) el.textContent = text; }
  function kpi(key, label, en, extraClass) {
    return `<div class="kpi ${extraClass || ""}" data-k="${key}"><div class="label">${label} <span class="en">${en}</span></div>` +
      `<div class="value" data-v="${key}">—</div><div class="sub" data-s="${key}"></div></div>`;
  }
  function setKpi(key, value, sub) {
    setText(`[data-v="${key}"]`, value);
    if (sub !== undefined) setText(`[data-s="${key}"]`, sub);
  }
  function panel(title, en, body, id) {
    return `<section class="panel"${id ? ` id="${id}"` : ""}><h2>${title} <span class="en">${en}</span></h2>${body}</section>`;
  }
  /** columns: [{key, label, en, num, html(row) -> string}] */
  function table(el, columns, rows, keyOf, emptyText) {
    const head = "<thead><tr>" + columns.map((c) =>
      `<th class="${c.num ? "num" : ""}">${c.label}<br><span class="en">${c.en}</span></th>`).join("") + "</tr></thead>";
    const body = rows.length === 0
      ? `<tr><td class="empty" colspan="${columns.length}">${emptyText || "无 none"}</td></tr>`
      : rows.map((r) => `<tr data-key="${esc(keyOf(r))}">` + columns.map((c) =>
        `<td data-col="${c.key}" class="${c.num ? "num" : ""}">${c.html(r)}</td>`).join("") + "</tr>").join("");
    setHTML(el, `<table>${head}<tbody>${body}</tbody></table>`);
  }
  function pager(el, page, onMove) {
    const first = page.total === 0 ? 0 : page.offset + 1;
    const last = Math.min(page.offset + page.items.length, page.total);
    const html = `<button data-move="-1" ${page.offset === 0 ? "disabled" : ""}>‹ 上一页 prev</button>` +
      `<span data-pager>第 ${count(first)}–${count(last)} 条，共 ${count(page.total)} 条 · items ${count(first)}–${count(last)} of ${count(page.total)}</span>` +
      `<button data-move="1" ${last >= page.total ? "disabled" : ""}>下一页 next ›</button>`;
    if (el.innerHTML !== html) {
      el.innerHTML = html;
      el.querySelectorAll("button").forEach((b) => b.addEventListener("click", () => onMove(Number(b.dataset.move))));
    }
  }
  const charts = [];
  function chart(el) {
    const c = echarts.init(el, null, { renderer: "canvas" });
    charts.push(c);
    return c;
  }
  window.addEventListener("resize", () => charts.forEach((c) => c.resize()));
  const BASE = { animation: false, textStyle: { fontFamily: "Noto Sans CJK SC, sans-serif" } };
  const amountTooltip = (params) => {
    const list = Array.isArray(params) ? params : [params];
    return esc(list[0].axisValueLabel || list[0].name) + "<br>" + list.map((p) =>
      `${p.marker}${esc(p.seriesName)}: ${p.data && p.data.fen !== undefined ? yuan(p.data.fen) : esc(p.value)}`).join("<br>");
  };
  function usageBar(row) {
    const width = row.usage_pct === null ? 0 : Math.min(100, row.usage_pct);
    return `<span class="bar ${row.level}"><span style="width:${width}%"></span></span>${pct(row.usage_pct)}`;
  }
  function onChange(selector, fn) {
    document.querySelectorAll(selector).forEach((el) => el.addEventListener("change", () => { fn(el); refreshNow(); }));
  }

  // -- pages ------------------------------------------------------------------------------------
  const pages = {};

  pages.overview = {
    layout: () => `<div class="kpis">
        ${kpi("facts", "事实", "Facts")}${kpi("settlements", "结算笔数", "Settlements")}
        ${kpi("owed", "结算金额（应清算）", "Settled amount owed")}
        ${kpi("floats", "预付金占用", "Float outstanding")}
        ${kpi("statements_outstanding", "未划拨清算单", "Outstanding statements")}
        ${kpi("investigations_open", "待协查案件", "Open investigations")}
        ${kpi("payouts_overdue", "逾期拨付", "Overdue payouts")}
        ${kpi("direct_rate", "直接结算率", "Direct-settlement rate")}</div>
      <div class="grid two">
        ${panel("预警与紧急预付金", "Floats at warning / emergency", '<div id="alerting" class="scroll"></div>')}
        ${panel("预付金使用率前十", "Top-10 float usage", '<div id="usage-chart" class="chart"></div>')}
        ${panel("未划拨清算单", "Outstanding statements", '<div id="outstanding"></div>')}
        ${panel("最新待协查案件", "Newest open investigations", '<div id="cases"></div>')}
      </div>`,
    mount() { this.usage = chart($("#usage-chart")); },
    async refresh() {
      const [o, alerting, top, outstanding, cases, meta] = await Promise.all([
        api("/api/overview"), api("/api/floats/details", { level: ["warning", "emergency"], sort: "usage", limit: 50 }),
        api("/api/floats/details", { sort: "usage", limit: 10 }),
        api("/api/calendar", { status: "outstanding", order: "desc", limit: 10 }),
        api("/api/investigations", { status: "open", order: "desc", limit: 10 }), meta_(),
      ]);
      setKpi("facts", count(o.facts), `最新日期 latest day ${o.latest_day || "—"}`);
      setKpi("settlements", count(o.settlements), `撤销 reversals ${count(o.reversals)}`);
      setKpi("owed", yuan(o.owed_fen), `撤销 reversed ${yuan(o.reversed_fen)}`);
      setKpi("floats", yuan(o.floats_outstanding_fen),
        `预付金 floats ${yuan(o.floats_float_fen)} · 预警 warning ${o.floats_by_level.warning} · 紧急 emergency ${o.floats_by_level.emergency}`);
      setKpi("statements_outstanding", count(o.statements_outstanding), yuan(o.statements_outstanding_fen));
      setKpi("investigations_open", count(o.investigations_open), `已办结 closed ${count(o.investigations_closed)}`);
      setKpi("payouts_overdue", count(o.payouts_by_status.overdue.count), yuan(o.payouts_by_status.overdue.outstanding_fen));
      setKpi("direct_rate", pct(o.direct_rate_pct), `直接 direct ${count(o.direct)} · 手工 manual ${count(o.manual)}`);
      $('[data-k="payouts_overdue"]').classList.toggle("bad", o.payouts_by_status.overdue.count > 0);
      $('[data-k="floats"]').classList.toggle("warn", o.floats_by_level.warning + o.floats_by_level.emergency > 0);
      table($("#alerting"), FLOAT_COLUMNS.filter((c) => c.key !== "year"), alerting.items, floatKey,
        "没有预警 no float at warning or emergency");
      usageChart(this.usage, top.items, meta);
      table($("#outstanding"), CALENDAR_COLUMNS.filter((c) => !["transferred_at", "status"].includes(c.key)),
        outstanding.items, statementKey, "全部已划拨 every statement transferred");
      table($("#cases"), CASE_COLUMNS.filter((c) => !["closed_at", "outcome", "status", "psn_no", "fixmedins_code"].includes(c.key)),
        cases.items, (c) => c.setl_id, "没有待协查案件 no open case");
    },
  };

  let metaCache = null;
  async function meta_() {
    if (!metaCache) metaCache = await api("/api/meta");
    return metaCache;
  }
  const floatKey = (r) => `${r.insured}>${r.treatment}`;
  const statementKey = (r) => `${r.period}|${r.insured}|${r.treatment}`;
  const FLOAT_COLUMNS = [
    { key: "insured", label: "参保地", en: "insured", html: (r) => place(r.insured) },
    { key: "treatment", label: "就医地", en: "treatment", html: (r) => place(r.treatment) },
    { key: "year", label: "年度", en: "year", html: (r) => esc(r.year) },
    { key: "float_fen", label: "预付金", en: "float", num: true, html: (r) => yuan(r.float_fen) },
    { key: "outstanding_fen", label: "未清算", en: "outstanding", num: true, html: (r) => yuan(r.outstanding_fen) },
    { key: "usage_pct", label: "使用率", en: "usage", html: usageBar },
    { key: "level", label: "级别", en: "level", html: (r) => tag(r.level, LEVEL) },
    {
      key: "alerts", label: "预警记录", en: "alerts", html: (r) => r.alerts.length === 0 ? '<span class="muted">—</span>'
        : `${count(r.alerts.length)} · ${day(r.alerts[r.alerts.length - 1].time)} ${esc(r.alerts[r.alerts.length - 1].from_level)}→${esc(r.alerts[r.alerts.length - 1].to_level)}`,
    },
  ];
  function usageChart(c, rows, meta) {
    const data = rows.slice().reverse();
    const height = `${Math.max(240, 60 + 24 * data.length)}px`;
    if (c.getDom().style.height !== height) { c.getDom().style.height = height; c.resize(); }
    c.setOption({
      ...BASE,
      grid: { left: 150, right: 60, top: 30, bottom: 30 },
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
      xAxis: { type: "value", max: (v) => Math.max(100, Math.ceil(v.max / 10) * 10), axisLabel: { formatter: "{value} %" } },
      yAxis: { type: "category", data: data.map((r) => pairLabel(r.insured, r.treatment)) },
      series: [{
        name: "使用率 usage %", type: "bar",
        data: data.map((r) => ({ value: r.usage_pct ?? 0, itemStyle: { color: COLORS[r.level] } })),
        label: { show: true, position: "right", formatter: (p) => p.value > 0 ? `${p.value.toFixed(2)} %` : "" },
        markLine: {
          symbol: "none", silent: true, data: [
            { xAxis: meta.float_warning_pct, lineStyle: { color: COLORS.warning }, label: { formatter: `预警 ${meta.float_warning_pct} %` } },
            { xAxis: meta.float_emergency_pct, lineStyle: { color: COLORS.emergency }, label: { formatter: `紧急 ${meta.float_emergency_pct} %` } },
          ],
        },
      }],
    }, true);
  }

  pages.floats = {
    state: { level: "", sort: "usage", offset: 0, limit: 100, selected: null },
    layout: () => `<div class="kpis five">${kpi("floats_n", "预付金对数", "Floats")}${kpi("floats_total", "预付金总额", "Total float")}
        ${kpi("floats_out", "未清算总额", "Total outstanding")}${kpi("floats_warning", "预警", "At warning", "warn")}
        ${kpi("floats_emergency", "紧急", "At emergency", "bad")}</div>
      ${panel("使用率最高的预付金", "Highest float usage (top 30)", '<div id="usage-chart" class="chart tall"></div>')}
      ${panel("预付金", "Floats", `<div class="toolbar">
          <label>级别 level <select id="level"><option value="">全部 all</option><option value="ok">正常 ok</option>
          <option value="warning">预警 warning</option><option value="emergency">紧急 emergency</option></select></label>
          <label>排序 sort <select id="sort"><option value="usage">使用率 usage</option><option value="pair">地区 pair</option></select></label>
          <span class="muted">点击一行查看预警记录 click a row for its alert history</span></div>
        <div id="floats-table" class="scroll"></div><div id="floats-pager" class="pager"></div>`)}
      ${panel("预警记录", "Alert history", '<div id="alerts-title" class="muted">—</div><div id="alerts"></div>')}`,
    mount() {
      this.usage = chart($("#usage-chart"));
      onChange("#level", (el) => { this.state.level = el.value; this.state.offset = 0; });
      onChange("#sort", (el) => { this.state.sort = el.value; this.state.offset = 0; });
      $("#floats-table").addEventListener("click", (event) => {
        const row = event.target.closest("tr[data-key]");
        if (row) { this.state.selected = row.dataset.key; refreshNow(); }
      });
    },
    async refresh() {
      const s = this.state;
      const [o, top, page, meta] = await Promise.all([
        api("/api/overview"), api("/api/floats/details", { sort: "usage", limit: 30 }),
        api("/api/floats/details", { level: s.level, sort: s.sort, limit: s.limit, offset: s.offset }), meta_(),
      ]);
      setKpi("floats_n", count(o.floats));
      setKpi("floats_total", yuan(o.floats_float_fen));
      setKpi("floats_out", yuan(o.floats_outstanding_fen));
      setKpi("floats_warning", count(o.floats_by_level.warning), `≥ ${meta.float_warning_pct} %`);
      setKpi("floats_emergency", count(o.floats_by_level.emergency), `≥ ${meta.float_emergency_pct} %`);
      usageChart(this.usage, top.items, meta);
      table($("#floats-table"), FLOAT_COLUMNS, page.items, floatKey);
      pager($("#floats-pager"), page, (d) => { s.offset = Math.max(0, s.offset + d * s.limit); refreshNow(); });
      if (s.selected) {
        const [insured, treatment] = s.selected.split(">");
        const one = await api("/api/floats/details", { insured, treatment, limit: 1 });
        const f = one.items[0];
        setHTML($("#alerts-title"), f ? `${place(insured)} → ${place(treatment)}` : "—");
        table($("#alerts"), ALERT_COLUMNS, f ? f.alerts.slice().reverse() : [], (a) => a.time, "没有预警 no alert");
      }
    },
  };
  const ALERT_COLUMNS = [
    { key: "time", label: "时间", en: "time", html: (a) => esc(a.time) },
    { key: "from_level", label: "原级别", en: "from", html: (a) => tag(a.from_level, LEVEL) },
    { key: "to_level", label: "新级别", en: "to", html: (a) => tag(a.to_level, LEVEL) },
    { key: "usage_pct", label: "使用率", en: "usage", num: true, html: (a) => pct(a.usage_pct) },
    { key: "outstanding_fen", label: "未清算", en: "outstanding", num: true, html: (a) => yuan(a.outstanding_fen) },
    { key: "float_fen", label: "预付金", en: "float", num: true, html: (a) => yuan(a.float_fen) },
  ];

  const CALENDAR_COLUMNS = [
    { key: "period", label: "清算月份", en: "period", html: (r) => esc(r.period) },
    { key: "insured", label: "参保地", en: "insured", html: (r) => place(r.insured) },
    { key: "treatment", label: "就医地", en: "treatment", html: (r) => place(r.treatment) },
    { key: "amount_fen", label: "清分金额", en: "amount", num: true, html: (r) => yuan(r.amount_fen) },
    { key: "status", label: "状态", en: "status", html: (r) => tag(r.status) },
    { key: "issued_at", label: "下达", en: "issued", html: (r) => day(r.issued_at) },
    { key: "due_date", label: "应划拨日", en: "due", html: (r) => esc(r.due_date) },
    { key: "transferred_at", label: "划拨", en: "transferred", html: (r) => day(r.transferred_at) },
    {
      key: "days_late", label: "逾期天数", en: "days late", num: true,
      html: (r) => r.days_late === null ? "—" : r.days_late > 0 ? `<span class="late">${count(r.days_late)}</span>` : "0",
    },
  ];
  const MONTH_COLUMNS = [
    { key: "period", label: "月份", en: "period", html: (m) => esc(m.period) },
    { key: "closed_at", label: "清分日", en: "cleared", html: (m) => day(m.closed_at) },
    { key: "issued", label: "清算单", en: "statements", num: true, html: (m) => count(m.issued) },
    { key: "issued_fen", label: "清分金额", en: "amount", num: true, html: (m) => yuan(m.issued_fen) },
    { key: "transferred", label: "已划拨", en: "transferred", num: true, html: (m) => count(m.transferred) },
    { key: "transferred_fen", label: "已划拨金额", en: "transferred amount", num: true, html: (m) => yuan(m.transferred_fen) },
    { key: "outstanding", label: "未划拨", en: "outstanding", num: true, html: (m) => count(m.outstanding) },
    { key: "outstanding_fen", label: "未划拨金额", en: "outstanding amount", num: true, html: (m) => yuan(m.outstanding_fen) },
    { key: "late", label: "逾期", en: "late", num: true, html: (m) => m.late > 0 ? `<span class="late">${count(m.late)}</span>` : "0" },
    { key: "max_days_late", label: "最长逾期天数", en: "max days late", num: true, html: (m) => count(m.max_days_late) },
  ];

  pages.calendar = {
    state: { period: "", status: "", late: false, offset: 0, limit: 100 },
    layout: () => `<div class="kpis">${kpi("months", "已清分月份", "Months cleared")}${kpi("cal_out", "未划拨清算单", "Outstanding")}
        ${kpi("cal_late", "逾期清算单", "Late statements", "bad")}${kpi("cal_today", "判定日", "Judged at")}</div>
      ${panel("每月清分与划拨", "Clearing per month: transferred and outstanding", '<div id="month-chart" class="chart"></div>')}
      ${panel("清算日历", "Clearing calendar", '<div id="months" class="scroll"></div>')}
      ${panel("清算单", "Statements", `<div class="toolbar">
          <label>月份 period <select id="period"><option value="">全部 all</option></select></label>
          <label>状态 status <select id="status"><option value="">全部 all</option><option value="outstanding">未划拨 outstanding</option>
          <option value="transferred">已划拨 transferred</option></select></label>
          <label><input type="checkbox" id="late"> 仅逾期 late only</label></div>
        <div id="statements" class="scroll"></div><div id="statements-pager" class="pager"></div>`)}`,
    mount() {
      this.months = chart($("#month-chart"));
      onChange("#period", (el) => { this.state.period = el.value; this.state.offset = 0; });
      onChange("#status", (el) => { this.state.status = el.value; this.state.offset = 0; });
      onChange("#late", (el) => { this.state.late = el.checked; this.state.offset = 0; });
    },
    async refresh() {
      const s = this.state;
      const page = await api("/api/calendar", {
        period: s.period, status: s.status, late: s.late ? "true" : "", order: "desc", limit: s.limit, offset: s.offset,
      });
      const months = page.months;
      const out = months.reduce((a, m) => a + m.outstanding, 0);
      const late = months.reduce((a, m) => a + m.late, 0);
      setKpi("months", count(months.filter((m) => m.closed_at).length), months.length ? `${months[0].period} – ${months[months.length - 1].period}` : "");
      setKpi("cal_out", count(out), yuan(months.reduce((a, m) => a + m.outstanding_fen, 0)));
      setKpi("cal_late", count(late), `${page.due_working_days} 个工作日内应划拨 due within ${page.due_working_days} working days`);
      setKpi("cal_today", page.today || "—", "默认为最新事实日期 default: the latest fact's day");
      const select = $("#period");
      const wanted = ['<option value="">全部 all</option>'].concat(months.slice().reverse().map((m) =>
        `<option value="${esc(m.period)}"${m.period === s.period ? " selected" : ""}>${esc(m.period)}</option>`)).join("");
      if (select.dataset.html !== wanted) { select.innerHTML = wanted; select.dataset.html = wanted; }
      this.months.setOption({
        ...BASE,
        legend: { top: 0 },
        grid: { left: 90, right: 50, top: 40, bottom: 30 },
        tooltip: { trigger: "axis", formatter: amountTooltip },
        xAxis: { type: "category", data: months.map((m) => m.period) },
        yAxis: [{ type: "value", name: "元 yuan" }, { type: "value", name: "逾期 late", minInterval: 1 }],
        series: [
          { name: "已划拨 transferred", type: "bar", stack: "s", itemStyle: { color: COLORS.ok },
            data: months.map((m) => ({ value: yuanNumber(m.transferred_fen), fen: m.transferred_fen })) },
          { name: "未划拨 outstanding", type: "bar", stack: "s", itemStyle: { color: COLORS.accent },
            data: months.map((m) => ({ value: yuanNumber(m.outstanding_fen), fen: m.outstanding_fen })) },
          { name: "逾期清算单 late", type: "line", yAxisIndex: 1, itemStyle: { color: COLORS.emergency },
            data: months.map((m) => m.late) },
        ],
      }, true);
      table($("#months"), MONTH_COLUMNS, months.slice().reverse(), (m) => m.period);
      table($("#statements"), CALENDAR_COLUMNS, page.items, statementKey);
      pager($("#statements-pager"), page, (d) => { s.offset = Math.max(0, s.offset + d * s.limit); refreshNow(); });
    },
  };

  const CASE_COLUMNS = [
    { key: "setl_id", label: "结算ID", en: "setl_id", html: (c) => esc(c.setl_id) },
    { key: "insured", label: "参保地", en: "insured", html: (c) => place(c.insured) },
    { key: "treatment", label: "就医地", en: "treatment", html: (c) => place(c.treatment) },
    { key: "fixmedins_code", label: "医药机构", en: "institution", html: (c) => esc(c.fixmedins_code) },
    { key: "psn_no", label: "人员编号", en: "person", html: (c) => esc(c.psn_no) },
    { key: "medfee_sumamt_fen", label: "医疗费用", en: "fees", num: true, html: (c) => yuan(c.medfee_sumamt_fen) },
    { key: "opened_at", label: "立案", en: "opened", html: (c) => stamp(c.opened_at) },
    { key: "status", label: "状态", en: "status", html: (c) => tag(c.status) },
    { key: "outcome", label: "结论", en: "outcome", html: (c) => esc(c.outcome || "—") },
    { key: "closed_at", label: "办结", en: "closed", html: (c) => stamp(c.closed_at) },
  ];

  pages.investigations = {
    state: { status: "open", offset: 0, limit: 50 },
    layout: () => `<div class="kpis">${kpi("cases_open", "待协查", "Open", "warn")}${kpi("cases_closed", "已办结", "Closed")}
        ${kpi("threshold", "协查起点", "Threshold (inpatient stay)")}</div>
      ${panel("大额费用协查", "Large-amount investigation queue", `<div class="toolbar">
          <label>状态 status <select id="status"><option value="open">待协查 open</option><option value="closed">已办结 closed</option>
          <option value="">全部 all</option></select></label><span class="muted">最新在前 newest first</span></div>
        <div id="cases" class="scroll"></div><div id="cases-pager" class="pager"></div>`)}`,
    mount() { onChange("#status", (el) => { this.state.status = el.value; this.state.offset = 0; }); },
    async refresh() {
      const s = this.state;
      const page = await api("/api/investigations", { status: s.status, order: "desc", limit: s.limit, offset: s.offset });
      setKpi("cases_open", count(page.open));
      setKpi("cases_closed", count(page.closed));
      setKpi("threshold", yuan(page.threshold_fen), "住院单次医疗费用 ≥ fees of one inpatient stay");
      table($("#cases"), CASE_COLUMNS, page.items, (c) => c.setl_id, "没有案件 no case");
      pager($("#cases-pager"), page, (d) => { s.offset = Math.max(0, s.offset + d * s.limit); refreshNow(); });
    },
  };

  const PAYOUT_COLUMNS = [
    { key: "treatment", label: "就医地", en: "treatment", html: (p) => place(p.treatment) },
    { key: "fixmedins_code", label: "医药机构", en: "institution", html: (p) => esc(p.fixmedins_code) },
    { key: "period", label: "月份", en: "period", html: (p) => esc(p.period) },
    { key: "due_fen", label: "应拨付", en: "due", num: true, html: (p) => yuan(p.due_fen) },
    { key: "paid_fen", label: "已拨付", en: "paid", num: true, html: (p) => yuan(p.paid_fen) },
    { key: "outstanding_fen", label: "未拨付", en: "outstanding", num: true, html: (p) => yuan(p.outstanding_fen) },
    { key: "money_arrived_at", label: "清算资金到账", en: "money arrived", html: (p) => day(p.money_arrived_at) },
    { key: "due_date", label: "拨付期限", en: "due date", html: (p) => esc(p.due_date || "—") },
    { key: "status", label: "状态", en: "status", html: (p) => tag(p.status) },
  ];
  const PAYOUT_ORDER = ["overdue", "due", "awaiting_clearing", "paid"];
  const UNPAID = ["overdue", "due", "awaiting_clearing"];

  pages.payouts = {
    state: { status: "unpaid", period: "", offset: 0, limit: 100 },
    layout: () => `<div class="kpis">${kpi("overdue", "逾期", "Overdue", "bad")}${kpi("due", "待拨付", "Due")}
        ${kpi("awaiting_clearing", "待清算资金", "Awaiting clearing money")}${kpi("paid", "已拨付", "Paid")}</div>
      <div class="grid two">
        ${panel("未拨付金额（按状态）", "Unpaid amount by status", '<div id="status-chart" class="chart"></div>')}
        ${panel("规则", "Rule", '<div id="rule" class="muted"></div>')}
      </div>
      ${panel("医药机构拨付", "Institution payouts", `<div class="toolbar">
          <label>状态 status <select id="status"><option value="unpaid">未结清 unpaid (overdue, due, awaiting)</option>
          ${PAYOUT_ORDER.map((k) => `<option value="${k}">${STATUS[k]}</option>`).join("")}
          <option value="">全部 all</option></select></label>
          <label>月份 period <input id="period" placeholder="YYYY-MM" size="8"></label></div>
        <div id="payouts" class="scroll"></div><div id="payouts-pager" class="pager"></div>`)}`,
    mount() {
      this.status = chart($("#status-chart"));
      onChange("#status", (el) => { this.state.status = el.value; this.state.offset = 0; });
      onChange("#period", (el) => { this.state.period = /^\d{4}-\d{2}$/.test(el.value) ? el.value : ""; this.state.offset = 0; });
    },
    async refresh() {
      const s = this.state;
      const status = s.status === "unpaid" ? UNPAID : s.status;
      const page = await api("/api/payouts", { status, period: s.period, limit: s.limit, offset: s.offset });
      for (const k of UNPAID) {
        setKpi(k, count(page.by_status[k].count), `未拨付 outstanding ${yuan(page.by_status[k].outstanding_fen)}`);
      }
      const overpaid = page.by_status.paid.outstanding_fen;
      setKpi("paid", count(page.by_status.paid.count),
        overpaid < 0 ? `多付（追回后） overpaid after clawbacks ${yuan(-overpaid)}` : "");
      setHTML($("#rule"), `清算资金到账后 ${esc(page.payout_working_days)} 个工作日内拨付（周末与节假日不计）。` +
        `<br><span class="en">Institutions are paid within ${esc(page.payout_working_days)} working days after the clearing money arrives ` +
        `(weekends and configured holidays do not count).</span><br>判定日 judged at: <b data-today>${esc(page.today || "—")}</b>`);
      this.status.setOption({
        ...BASE,
        grid: { left: 100, right: 30, top: 20, bottom: 30 },
        tooltip: { trigger: "axis", formatter: amountTooltip },
        xAxis: { type: "category", data: UNPAID.map((k) => STATUS[k]), axisLabel: { interval: 0 } },
        yAxis: { type: "value", name: "元 yuan" },
        series: [{
          name: "未拨付 outstanding", type: "bar", barMaxWidth: 80,
          data: UNPAID.map((k) => ({
            value: yuanNumber(page.by_status[k].outstanding_fen), fen: page.by_status[k].outstanding_fen,
            itemStyle: { color: { overdue: COLORS.emergency, due: COLORS.warning, awaiting_clearing: COLORS.accent, paid: COLORS.ok }[k] },
          })),
        }],
      }, true);
      table($("#payouts"), PAYOUT_COLUMNS, page.items, (p) => `${p.treatment}|${p.fixmedins_code}|${p.period}`);
      pager($("#payouts-pager"), page, (d) => { s.offset = Math.max(0, s.offset + d * s.limit); refreshNow(); });
    },
  };

  const DAY_COLUMNS = [
    { key: "day", label: "日期", en: "day", html: (d) => esc(d.day) },
    { key: "settlements", label: "结算笔数", en: "settlements", num: true, html: (d) => count(d.settlements) },
    ...Object.keys(INFNO).map((k) => ({ key: `infno_${k}`, label: INFNO[k].split(" ")[0], en: k, num: true, html: (d) => count(d.by_infno[k] || 0) })),
    { key: "owed_fen", label: "应清算金额", en: "owed", num: true, html: (d) => yuan(d.owed_fen) },
    { key: "reversals", label: "撤销笔数", en: "reversals", num: true, html: (d) => count(d.reversals) },
    { key: "reversed_fen", label: "撤销金额", en: "reversed", num: true, html: (d) => yuan(d.reversed_fen) },
  ];
  const RATE_COLUMNS = [
    { key: "province", label: "参保省", en: "insured province", html: (r) => place(r.province) },
    { key: "inpatient", label: "住院 直接/手工", en: "inpatient direct/manual", num: true, html: (r) => `${count(r.inpatient_direct)} / ${count(r.inpatient_manual)}` },
    { key: "inpatient_rate_pct", label: "住院直接结算率", en: "inpatient rate", num: true, html: (r) => pct(r.inpatient_rate_pct) },
    { key: "outpatient", label: "门诊 直接/手工", en: "outpatient direct/manual", num: true, html: (r) => `${count(r.outpatient_direct)} / ${count(r.outpatient_manual)}` },
    { key: "outpatient_rate_pct", label: "门诊直接结算率", en: "outpatient rate", num: true, html: (r) => pct(r.outpatient_rate_pct) },
    { key: "direct_rate_pct", label: "直接结算率", en: "rate", num: true, html: (r) => pct(r.direct_rate_pct) },
  ];

  pages.volumes = {
    state: { pair: "", infno: "" },
    layout: () => `<div class="kpis">${kpi("vol_settlements", "结算笔数", "Settlements")}${kpi("vol_owed", "应清算金额", "Owed")}
        ${kpi("vol_reversals", "撤销", "Reversals")}${kpi("vol_rate", "直接结算率", "Direct-settlement rate")}</div>
      ${panel("每日结算量", "Settlements per day and transaction", `<div class="toolbar">
          <label>地区对 pair <input id="pair" placeholder="420000>440000" size="14" list="pairs"><datalist id="pairs"></datalist></label>
          <label>交易 type <select id="infno"><option value="">全部 all</option>
          ${Object.entries(INFNO).map(([k, v]) => `<option value="${k}">${v}</option>`).join("")}</select></label>
          <span class="muted" id="range"></span></div>
        <div id="daily-chart" class="chart"></div><div id="amount-chart" class="chart"></div>`)}
      <div class="grid two">
        ${panel("最近结算日", "Latest days", '<div id="days"></div>')}
        ${panel("直接结算率（按参保省）", "Direct-settlement rate per insured province", '<div id="rate-chart" class="chart tall"></div>')}
      </div>
      ${panel("直接结算率", "Direct-settlement rate = direct ÷ (direct + manual)", '<div id="rates" class="scroll"></div>')}`,
    mount() {
      this.daily = chart($("#daily-chart"));
      this.amount = chart($("#amount-chart"));
      this.rate = chart($("#rate-chart"));
      onChange("#pair", (el) => { this.state.pair = /^\d{6}>\d{6}$/.test(el.value.trim()) ? el.value.trim() : ""; });
      onChange("#infno", (el) => { this.state.infno = el.value; });
    },
    async refresh() {
      const s = this.state;
      const [page, rates, floats] = await Promise.all([
        api("/api/volumes/daily", { pair: s.pair, infno: s.infno, order: "desc", limit: 366 }),
        api("/api/direct-rate"), this.pairs ? null : api("/api/floats"),
      ]);
      if (floats) {
        this.pairs = floats.map((f) => `${f.insured}>${f.treatment}`);
        setHTML($("#pairs"), this.pairs.map((p) => `<option value="${esc(p)}">`).join(""));
      }
      const days = page.items.slice().reverse();
      const sum = (k) => days.reduce((a, d) => a + BigInt(d[k]), 0n);
      setKpi("vol_settlements", count(sum("settlements")), days.length ? `${days[0].day} – ${days[days.length - 1].day}` : "");
      setKpi("vol_owed", yuan(sum("owed_fen")));
      setKpi("vol_reversals", count(sum("reversals")), yuan(sum("reversed_fen")));
      const all = rates.provinces.reduce((a, r) => [a[0] + r.direct, a[1] + r.manual], [0, 0]);
      setKpi("vol_rate", pct(all[0] + all[1] ? Math.round(all[0] * 10000 / (all[0] + all[1])) / 100 : null),
        `全国目标（住院） national goal (inpatient) ≥ ${rates.goal_pct} %`);
      setText("#range", page.total > page.items.length ? `显示最近 ${page.items.length} 天，共 ${page.total} 天 showing the latest ${page.items.length} of ${page.total} days` : "");
      this.daily.setOption({
        ...BASE,
        legend: { top: 0 }, grid: { left: 60, right: 30, top: 40, bottom: 60 },
        tooltip: { trigger: "axis" }, dataZoom: [{ type: "slider", height: 18, bottom: 8 }],
        xAxis: { type: "category", data: days.map((d) => d.day) },
        yAxis: { type: "value", name: "笔 count", minInterval: 1 },
        series: Object.keys(INFNO).map((k) => ({
          name: INFNO[k], type: "bar", stack: "n", itemStyle: { color: INFNO_COLORS[k] },
          data: days.map((d) => d.by_infno[k] || 0),
        })),
      }, false);
      this.amount.setOption({
        ...BASE,
        legend: { top: 0 }, grid: { left: 90, right: 30, top: 40, bottom: 30 },
        tooltip: { trigger: "axis", formatter: amountTooltip },
        xAxis: { type: "category", data: days.map((d) => d.day) },
        yAxis: { type: "value", name: "元 yuan" },
        series: [
          { name: "应清算金额 owed", type: "line", showSymbol: false, itemStyle: { color: COLORS.accent },
            data: days.map((d) => ({ value: yuanNumber(d.owed_fen), fen: d.owed_fen })) },
          { name: "撤销金额 reversed", type: "line", showSymbol: false, itemStyle: { color: COLORS.emergency },
            data: days.map((d) => ({ value: yuanNumber(d.reversed_fen), fen: d.reversed_fen })) },
        ],
      }, true);
      table($("#days"), DAY_COLUMNS, page.items.slice(0, 10), (d) => d.day, "没有结算 no settlement");
      const provinces = rates.provinces.slice().reverse();
      this.rate.setOption({
        ...BASE,
        legend: { top: 0 }, grid: { left: 80, right: 40, top: 40, bottom: 30 },
        tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
        xAxis: { type: "value", min: 0, max: 100, axisLabel: { formatter: "{value} %" } },
        yAxis: { type: "category", data: provinces.map((r) => PROVINCES[r.province.slice(0, 2)] || r.province) },
        series: [
          { name: "住院 inpatient", type: "bar", itemStyle: { color: COLORS.accent }, data: provinces.map((r) => r.inpatient_rate_pct),
            markLine: { symbol: "none", silent: true, lineStyle: { color: COLORS.emergency },
              label: { formatter: `目标 goal ${rates.goal_pct} %` }, data: [{ xAxis: rates.goal_pct }] } },
          { name: "全部 all", type: "bar", itemStyle: { color: COLORS.ok }, data: provinces.map((r) => r.direct_rate_pct) },
        ],
      }, true);
      table($("#rates"), RATE_COLUMNS, rates.provinces, (r) => r.province);
    },
  };

  // -- the polling loop ----------------------------------------------------------------------------
  const page = pages[PAGE] || pages.overview;
  let timer = null;
  let running = false;
  let again = false;
  let refreshes = 0;
  async function tick() {
    clearTimeout(timer);
    if (running) { again = true; return; }
    running = true;
    try {
      await page.refresh();
      refreshes += 1;
      document.body.dataset.refreshes = String(refreshes);
      setText("#updated", new Date().toLocaleTimeString("en-GB", { hour12: false }));
      $("#live").className = "dot on";
      $("#error").hidden = true;
    } catch (error) {
      $("#live").className = "dot off";
      const el = $("#error");
      el.hidden = false;
      el.textContent = `刷新失败 refresh failed: ${error.message}`;
    } finally {
      running = false;
      timer = setTimeout(tick, again ? 0 : POLL_MS);
      again = false;
    }
  }
  function refreshNow() { tick(); }

  document.querySelectorAll("nav a").forEach((a) => a.classList.toggle("active", a.dataset.nav === PAGE));
  $("#main").innerHTML = page.layout();
  page.mount();
  document.body.dataset.pollMs = String(POLL_MS);
  tick();
})();
