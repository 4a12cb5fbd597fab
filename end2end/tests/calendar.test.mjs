// The dispatch calendar as a dispatcher uses it, in real Chromium at 1366 × 850: a ticket from
// the side list dragged onto a technician's time, a booking dragged to another technician and
// time, an impossible drop (time off) refused in words with nothing changed, a booking made
// from the keyboard, no sideways scrolling, and pictures of the day and the week.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { launch, USERS, signIn, screenshot, tool, readCase } from './support.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

const DESK = { viewport: { width: 1366, height: 850 } };
const ZONE = 'America/Chicago';
const BIN = process.env.E2E_BIN ?? '';
// A trade of their own: the other walks' hvac slots never go to these technicians.
const TRADE = 'boiler';

/// `YYYY-MM-DD` of an instant in the shop's zone.
const localDate = (ms) => new Intl.DateTimeFormat('en-CA', { timeZone: ZONE, year: 'numeric', month: '2-digit', day: '2-digit' }).format(new Date(ms));

/// The instant of a wall-clock time on a date in the shop's zone.
function zoned(date, hh, mm) {
  const [y, m, d] = date.split('-').map(Number);
  const guess = Date.UTC(y, m - 1, d, hh, mm);
  const parts = Object.fromEntries(new Intl.DateTimeFormat('en-US', {
    timeZone: ZONE, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit',
  }).formatToParts(new Date(guess)).map((p) => [p.type, p.value]));
  const seen = Date.UTC(+parts.year, +parts.month - 1, +parts.day, +parts.hour, +parts.minute);
  return guess - (seen - guess);
}

/// The next weekday after today in the shop's zone (the technicians work Monday to Friday).
function nextWorkday() {
  const [y, m, d] = localDate(Date.now()).split('-').map(Number);
  for (let i = 1; i < 8; i++) {
    const day = new Date(Date.UTC(y, m - 1, d + i));
    if (day.getUTCDay() !== 0 && day.getUTCDay() !== 6) return day.toISOString().slice(0, 10);
  }
  throw new Error('no weekday in a week');
}

function technician(name, skill) {
  const r = spawnSync(BIN, ['technician', 'create', '--name', name, '--skill', skill], { encoding: 'utf8', env: process.env });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim().split('\n').pop();
}

async function ticket(name, phone) {
  const created = await tool('ticket.create', {
    customer: { name, phone },
    site: { address: '77 Boiler Row, Chicago' },
    problem_summary: 'Boiler locks out after a minute',
    trade: TRADE,
  });
  assert.equal(created.case.state, 'intake');
  return created.case;
}

/// The point on a technician's row (the day view) where `ms` falls.
async function pointOf(page, technicianId, ms) {
  const lane = page.locator(`.cal-lane[data-technician-id="${technicianId}"]`);
  const [from, to] = await Promise.all([lane.getAttribute('data-start-ms'), lane.getAttribute('data-end-ms')]);
  const box = await lane.boundingBox();
  const f = (ms - Number(from)) / (Number(to) - Number(from));
  assert.ok(f >= 0 && f <= 1, `${ms} is on the row`);
  // A pixel past the time: the drop snaps back to it.
  return { lane, position: { x: Math.round(f * box.width) + 1, y: Math.round(box.height / 2) } };
}

async function statusSays(page, text) {
  await page.waitForFunction((t) => document.querySelector('[data-test="calendar-status"]')?.textContent.includes(t), text, { timeout: 20_000 });
  return page.textContent('[data-test="calendar-status"]');
}

async function noSidewaysScroll(page, what) {
  const { scroll, client } = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth }));
  assert.ok(scroll <= client, `${what}: no sideways scrolling at 1366 px (${scroll} > ${client})`);
}

test('a dispatcher books, moves and is refused by drag and drop, and books from the keyboard', { timeout: 240_000 }, async () => {
  assert.ok(BIN, 'E2E_BIN names the server binary (scripts/e2e.sh sets it)');
  const day = nextWorkday();
  const dana = technician('Dana Whitfield', TRADE);
  const sam = technician('Sam Ortiz', TRADE);
  const eli = technician('Eli Park', TRADE);

  const stamp = Date.now() % 100000;
  const fresh = await ticket(`Cal Drag ${stamp}`, '+1 312 555 7101');
  const booked = await ticket(`Cal Move ${stamp}`, '+1 312 555 7102');
  const typed = await ticket(`Cal Keys ${stamp}`, '+1 312 555 7103');
  await tool('ticket.book', { ticket_id: booked.id, start_ms: zoned(day, 9, 0), end_ms: zoned(day, 11, 0), technician_id: dana });

  const { page, context, errors } = await signIn(browser, USERS.operator, `/console/schedule?view=day&date=${day}`, DESK);
  // Eli is away that day (the roster's time-off door, as the Technicians page uses it).
  const off = await page.evaluate(async ({ eli, day }) => {
    const res = await fetch('/api/add_time_off', {
      method: 'POST',
      headers: { accept: 'application/json' },
      body: new URLSearchParams({ technician_id: eli, from: day, to: day, reason: 'boiler course' }),
    });
    return res.text();
  }, { eli, day });
  assert.match(off, /Done/, off);
  await page.reload();
  await page.waitForSelector('html[data-hydrated="true"]', { timeout: 30_000 });

  // The page speaks the shop's time; each technician is a row; the tickets to book are listed.
  const text = await page.textContent('main');
  assert.doesNotMatch(text, /UTC/);
  assert.match(await page.textContent('[data-test="cal-zone"]'), /Shop time \(C[SD]T\)/);
  for (const name of ['Dana Whitfield', 'Sam Ortiz', 'Eli Park']) {
    assert.equal(await page.locator(`.cal-row[data-technician="${name}"]`).count(), 1, name);
  }
  assert.match(await page.textContent(`.cal-lane[data-technician-id="${eli}"]`), /Off: boiler course/);
  assert.equal(await page.textContent(`[data-ticket="${booked.number}"] strong`), '09:00–11:00');
  const side = page.locator(`#unscheduled [data-ticket="${fresh.number}"]`);
  await side.waitFor();
  await noSidewaysScroll(page, 'day view');

  // 1. A ticket from the list onto Dana's 13:00: booked, two hours by default.
  let target = await pointOf(page, dana, zoned(day, 13, 0));
  await side.dragTo(target.lane, { targetPosition: target.position });
  let said = await statusSays(page, `${fresh.number} booked with Dana Whitfield`);
  assert.match(said, /13:00–15:00 C[SD]T/);
  let c = await readCase(fresh.id);
  assert.equal(c.state, 'dispatched');
  assert.deepEqual([c.appointment.start_ms, c.appointment.end_ms, c.assignment.technician_id], [zoned(day, 13, 0), zoned(day, 15, 0), dana]);
  await page.locator(`.cal-lane[data-technician-id="${dana}"] [data-ticket="${fresh.number}"]`).waitFor();
  assert.equal(await page.locator(`#unscheduled [data-ticket="${fresh.number}"]`).count(), 0, 'off the list once booked');

  // 2. Dana's 09:00 job onto Sam at 10:30: moved and reassigned, still two hours.
  const job = page.locator(`.cal-lane[data-technician-id="${dana}"] [data-ticket="${booked.number}"]`);
  target = await pointOf(page, sam, zoned(day, 10, 30));
  await job.dragTo(target.lane, { sourcePosition: { x: 3, y: 8 }, targetPosition: target.position });
  said = await statusSays(page, `${booked.number} moved to Sam Ortiz`);
  assert.match(said, /10:30–12:30 C[SD]T/);
  c = await readCase(booked.id);
  assert.deepEqual([c.appointment.start_ms, c.appointment.end_ms, c.assignment.technician_id], [zoned(day, 10, 30), zoned(day, 12, 30), sam]);
  await page.locator(`.cal-lane[data-technician-id="${sam}"] [data-ticket="${booked.number}"]`).waitFor();
  await screenshot(page, 'calendar-day');

  // 3. Onto Eli, who is off that day: refused in words, and nothing changes.
  const before = await readCase(booked.id);
  const moving = page.locator(`.cal-lane[data-technician-id="${sam}"] [data-ticket="${booked.number}"]`);
  target = await pointOf(page, eli, zoned(day, 14, 0));
  await moving.dragTo(target.lane, { sourcePosition: { x: 3, y: 8 }, targetPosition: target.position });
  said = await statusSays(page, 'Not moved');
  assert.match(said, /Not moved: Eli Park is off then: boiler course/);
  assert.doesNotMatch(said, /TECH_UNAVAILABLE|tec_|outside_working_hours/, 'words, not codes');
  const after = await readCase(booked.id);
  assert.equal(after.version, before.version, 'the refused drop changed nothing');
  assert.deepEqual(after.appointment, before.appointment);
  assert.equal(await page.locator(`.cal-lane[data-technician-id="${sam}"] [data-ticket="${booked.number}"]`).count(), 1, 'still on Sam\'s row');
  await screenshot(page, 'calendar-refused');

  // 4. From the keyboard: focus the ticket, Enter, choose the technician and the time, Enter.
  const item = page.locator(`#unscheduled [data-ticket="${typed.number}"]`);
  await item.focus();
  await page.keyboard.press('Enter');
  await page.waitForFunction((n) => document.querySelector('[data-test="move-title"]')?.textContent.includes(`Book ${n}`), typed.number);
  // The form takes the focus once it is enabled, just after the render that shows its title.
  await page.waitForFunction(() => document.activeElement?.dataset.test === 'move-technician', null, { timeout: 5000 }).catch(() => {});
  assert.equal(await page.evaluate(() => document.activeElement?.dataset.test), 'move-technician', 'the form takes the focus');
  await page.selectOption('[data-test="move-technician"]', sam);
  await page.fill('[data-test="move-day"]', day);
  await page.fill('[data-test="move-time"]', '15:00');
  await page.fill('[data-test="move-minutes"]', '90');
  await page.focus('[data-test="move-time"]');
  await page.keyboard.press('Enter');
  said = await statusSays(page, `${typed.number} booked with Sam Ortiz`);
  assert.match(said, /15:00–16:30 C[SD]T/);
  c = await readCase(typed.id);
  assert.deepEqual([c.appointment.start_ms, c.appointment.end_ms, c.assignment.technician_id], [zoned(day, 15, 0), zoned(day, 16, 30), sam]);
  await noSidewaysScroll(page, 'day view after the bookings');

  // The week: the same jobs, seven days across, still no sideways scrolling.
  await page.click('[data-test="view-week"]');
  await page.waitForSelector('.cal-week .cal-cell');
  await page.locator(`.cal-cell[data-technician-id="${sam}"][data-date="${day}"] [data-ticket="${booked.number}"]`).waitFor();
  assert.equal(await page.locator('.cal-week .cal-dayhead').count(), 7);
  assert.match(await page.textContent('[data-test="cal-today"]'), /This week/);
  await noSidewaysScroll(page, 'week view');
  await screenshot(page, 'calendar-week');

  assert.deepEqual(errors, [], 'no script errors');
  await context.close();
});
