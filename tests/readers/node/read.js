#!/usr/bin/env node
// Read .xlsx files with exceljs or SheetJS (npm package xlsx) and print what the library sees:
//   node read.js <exceljs|sheetjs> <file.xlsx>
// prints {"<sheet>": [[cell, ...], ...]}; with several files, one JSON line per file,
// {"path", "order": [sheet names], "sheets": {...}} or {"path", "error"}. A cell is
// {"t": "string"|"number"|"boolean"|"date", "v": value} or null (empty); rows start at A1,
// trailing empty cells and rows are left out. A date's value is its wall-clock time as written
// in the file, "YYYY-MM-DDTHH:MM:SS" (truncated to the second, no time-zone shift). Texts are
// as the library returns them: exceljs 4.4 decodes `_xHHHH_` escapes in shared strings only
// (upper-case hex), not in inline strings; SheetJS decodes them (also `_XHHHH_`).
// Run it with TZ=UTC (the Python test does): SheetJS 0.18.5 builds dates in local time.
'use strict';

const ExcelJS = require('exceljs');
const XLSX = require('xlsx');

const DAY_MS = 86400000;
// Both libraries turn a serial s into 1899-12-30 + s days. That is Excel's meaning from
// serial 61 (1900-03-01) on; below it Excel counts from 1899-12-31, because it keeps Lotus
// 1-2-3's 29 February 1900 (serial 60). excelDay() gives a library's date Excel's meaning:
// before 1900-02-28 (serial < 60) one day later; on 1900-02-28 (serial 60.x) the day that
// never was, printed as "1900-02-29" (no JS Date can hold it). Pass it the date's fields.
function excelDay(y, m, d) {
  if (y > 1900 || (y === 1900 && m > 2)) return [y, m, d];
  if (y === 1900 && m === 2 && d === 28) return [1900, 2, 29];
  const next = new Date(Date.UTC(y, m - 1, d) + DAY_MS);
  return [next.getUTCFullYear(), next.getUTCMonth() + 1, next.getUTCDate()];
}

function pad(n, w = 2) { return String(n).padStart(w, '0'); }

function iso([y, m, d], hh, mm, ss) {
  return `${pad(y, 4)}-${pad(m)}-${pad(d)}T${pad(hh)}:${pad(mm)}:${pad(ss)}`;
}

function isoUTC(t) {
  return iso(excelDay(t.getUTCFullYear(), t.getUTCMonth() + 1, t.getUTCDate()),
    t.getUTCHours(), t.getUTCMinutes(), t.getUTCSeconds());
}

function isoLocal(t) {
  return iso(excelDay(t.getFullYear(), t.getMonth() + 1, t.getDate()), t.getHours(), t.getMinutes(), t.getSeconds());
}

function trim(rows) {
  for (const row of rows) while (row.length && row[row.length - 1] === null) row.pop();
  while (rows.length && rows[rows.length - 1].length === 0) rows.pop();
  return rows;
}

function text(v) {
  // exceljs: rich text ({richText: [{text}]}) for strings with runs; plain strings otherwise.
  if (v && typeof v === 'object' && Array.isArray(v.richText)) return v.richText.map((r) => r.text).join('');
  return String(v);
}

// exceljs: worksheet.getCell().value is a JS Date for a number cell whose style has a date
// format: utils.excelToDate, new Date(Math.round((serial - 25569) * 86400000)), i.e. the
// file's wall-clock time expressed as UTC, rounded to the millisecond. We read it with the
// UTC getters (never local time), then excelDay().
function excelCell(cell) {
  const T = ExcelJS.ValueType;
  const v = cell.value;
  switch (cell.type) {
    case T.Null: case T.Merge: return null;
    case T.Number: return { t: 'number', v };
    case T.Boolean: return { t: 'boolean', v };
    case T.Date: return { t: 'date', v: isoUTC(v) };
    case T.String: case T.SharedString: case T.RichText: return { t: 'string', v: text(v) };
    case T.Hyperlink: return { t: 'string', v: text(v.text) };
    case T.Formula: return { t: 'formula', v: String(v.formula || v.sharedFormula) };
    case T.Error: return { t: 'error', v: String(v.error) };
    default: return { t: 'unknown', v: String(v) };
  }
}

async function readExcelJS(path) {
  const book = new ExcelJS.Workbook();
  await book.xlsx.readFile(path);
  const out = [];
  book.eachSheet((sheet) => {
    const rows = [];
    for (let r = 1; r <= sheet.rowCount; r++) {
      const row = sheet.getRow(r);
      const cells = [];
      for (let c = 1; c <= row.cellCount; c++) cells.push(excelCell(row.getCell(c)));
      rows.push(cells);
    }
    out.push([sheet.name, trim(rows)]);
  });
  return out;
}

// SheetJS: read with cellDates: true, the way applications get dates from it. A number cell
// with a date format becomes {t: 'd', v: Date} from numdate(): new Date(1899-12-30 local +
// serial * 86400000 ms), the milliseconds truncated by Date.setTime. So the Date holds the
// file's wall-clock time in local time: read it with the local getters (TZ=UTC, so no time
// zone or historical offset can shift it), then excelDay().
function sheetCell(cell) {
  if (!cell || cell.t === 'z') return null;
  switch (cell.t) {
    case 's': return { t: 'string', v: cell.v };
    case 'n': return { t: 'number', v: cell.v };
    case 'b': return { t: 'boolean', v: cell.v };
    case 'd': return { t: 'date', v: isoLocal(cell.v) };
    case 'e': return { t: 'error', v: cell.w || String(cell.v) };
    default: return { t: 'unknown', v: String(cell.v) };
  }
}

function readSheetJS(path) {
  const book = XLSX.readFile(path, { cellDates: true, dense: false });
  const out = [];
  for (const name of book.SheetNames) {
    const sheet = book.Sheets[name];
    const rows = [];
    if (sheet['!ref']) {
      const range = XLSX.utils.decode_range(sheet['!ref']);
      for (let r = 0; r <= range.e.r; r++) {
        const cells = [];
        for (let c = 0; c <= range.e.c; c++) cells.push(sheetCell(sheet[XLSX.utils.encode_cell({ r, c })]));
        rows.push(cells);
      }
    }
    out.push([name, trim(rows)]);
  }
  return out;
}

async function main() {
  const [reader, ...paths] = process.argv.slice(2);
  const read = { exceljs: readExcelJS, sheetjs: readSheetJS }[reader];
  if (!read || paths.length === 0) {
    process.stderr.write('usage: node read.js <exceljs|sheetjs> <file.xlsx> [<file.xlsx> ...]\n');
    process.exit(2);
  }
  if (paths.length === 1) {
    process.stdout.write(JSON.stringify(Object.fromEntries(await read(paths[0]))) + '\n');
    return;
  }
  // Several files (one Node start-up for all): one JSON line each, with the sheet order
  // spelled out (JSON objects put integer-like keys such as a sheet "2024" first).
  for (const path of paths) {
    let line;
    try {
      const sheets = await read(path);
      line = { path, order: sheets.map(([name]) => name), sheets: Object.fromEntries(sheets) };
    } catch (err) {
      line = { path, error: String((err && err.stack) || err).split('\n').slice(0, 4).join(' | ') };
    }
    process.stdout.write(JSON.stringify(line) + '\n');
  }
}

main().catch((err) => { process.stderr.write(String((err && err.stack) || err) + '\n'); process.exit(1); });
