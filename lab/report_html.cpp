// The report as one self-contained HTML file (report.html): inline CSS, figures embedded as
// base64 data URIs of their SVG (no external files, no scripts), so it opens anywhere and can
// be mailed around. Inline SVG elements would also work, but gnuplot gives every SVG the same
// element ids, which would clash between figures on one page.
#include <fstream>
#include <sstream>

#include "lab/report_doc.h"

namespace nl::lab {
namespace {

const char* const kStyle = R"(
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0; color: #222; background: #fff; }
main { max-width: 1100px; margin: 0 auto; padding: 1em 2em 3em; line-height: 1.45; }
h1 { border-bottom: 2px solid #ddd; padding-bottom: .2em; }
h2 { margin-top: 2em; border-bottom: 1px solid #e4e4e4; padding-bottom: .15em; }
table { border-collapse: collapse; margin: .6em 0 1.2em; font-size: .92em; }
th, td { border: 1px solid #d4d4d4; padding: .25em .55em; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
tr:nth-child(even) td { background: #fafafa; }
code, pre { font-family: ui-monospace, "DejaVu Sans Mono", monospace; background: #f5f5f5; }
code { padding: 0 .2em; }
pre { padding: .6em .8em; overflow-x: auto; border: 1px solid #e2e2e2; }
figure { margin: 1em 0 2em; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { font-size: .9em; color: #555; max-width: 760px; }
.v-holds { color: #126b12; font-weight: 600; }
.v-does-not-hold { color: #a31515; font-weight: 600; }
.v-inconclusive { color: #8a6100; font-weight: 600; }
)";

std::string escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

// Escaped text with **bold** and `code` turned into elements (unpaired marks stay as text).
std::string inline_html(const std::string& s) {
  std::string out;
  size_t i = 0;
  while (i < s.size()) {
    if (s[i] == '`') {
      const size_t end = s.find('`', i + 1);
      if (end != std::string::npos) {
        out += "<code>" + escape(s.substr(i + 1, end - i - 1)) + "</code>";
        i = end + 1;
        continue;
      }
    }
    if (s.compare(i, 2, "**") == 0) {
      const size_t end = s.find("**", i + 2);
      if (end != std::string::npos) {
        out += "<strong>" + inline_html(s.substr(i + 2, end - i - 2)) + "</strong>";
        i = end + 2;
        continue;
      }
    }
    out += escape(std::string(1, s[i]));
    ++i;
  }
  return out;
}

std::string base64(const std::string& data) {
  static const char* const abc = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < data.size(); i += 3) {
    const uint32_t v = (uint8_t(data[i]) << 16) | (uint8_t(data[i + 1]) << 8) | uint8_t(data[i + 2]);
    out += abc[v >> 18];
    out += abc[(v >> 12) & 63];
    out += abc[(v >> 6) & 63];
    out += abc[v & 63];
  }
  if (i < data.size()) {
    const bool two = i + 1 < data.size();
    const uint32_t v = (uint8_t(data[i]) << 16) | (two ? uint8_t(data[i + 1]) << 8 : 0);
    out += abc[v >> 18];
    out += abc[(v >> 12) & 63];
    out += two ? abc[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::string verdict_class(const std::string& text) {
  if (text.rfind("holds", 0) == 0) return "v-holds";
  if (text.rfind("does not hold", 0) == 0) return "v-does-not-hold";
  if (text.rfind("inconclusive", 0) == 0) return "v-inconclusive";
  return "";
}

void table(std::ostringstream& out, const DocTable& t) {
  out << "<table>\n<thead><tr>";
  for (const std::string& h : t.header) out << "<th>" << inline_html(h) << "</th>";
  out << "</tr></thead>\n<tbody>\n";
  for (const auto& row : t.rows) {
    out << "<tr>";
    for (size_t c = 0; c < row.size(); ++c) {
      const std::string cls = static_cast<int>(c) == t.verdict_column ? verdict_class(row[c]) : "";
      out << (cls.empty() ? "<td>" : "<td class=\"" + cls + "\">") << inline_html(row[c]) << "</td>";
    }
    out << "</tr>\n";
  }
  out << "</tbody>\n</table>\n";
}

void figure(std::ostringstream& out, const DocBlock& b) {
  std::ifstream in(b.figure_file, std::ios::binary);
  std::stringstream svg;
  svg << in.rdbuf();
  out << "<figure>\n<img alt=\"" << escape(b.text) << "\" src=\"data:image/svg+xml;base64," << base64(svg.str())
      << "\">\n<figcaption>" << inline_html(b.text) << "</figcaption>\n</figure>\n";
}

}  // namespace

std::string render_html(const Doc& doc) {
  std::ostringstream out;
  out << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      << "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
      << "<title>" << escape(doc.title) << "</title>\n<style>" << kStyle << "</style>\n</head>\n<body>\n<main>\n";
  for (const DocBlock& b : doc.blocks) {
    switch (b.kind) {
      case DocBlock::Kind::heading: {
        const std::string tag = "h" + std::to_string(b.level);
        out << "<" << tag << (b.anchor.empty() ? "" : " id=\"" + escape(b.anchor) + "\"") << ">" << inline_html(b.text)
            << "</" << tag << ">\n";
        break;
      }
      case DocBlock::Kind::paragraph: out << "<p>" << inline_html(b.text) << "</p>\n"; break;
      case DocBlock::Kind::code: out << "<pre><code>" << escape(b.text) << "</code></pre>\n"; break;
      case DocBlock::Kind::list:
        out << "<ul>\n";
        for (const std::string& item : b.items) out << "<li>" << inline_html(item) << "</li>\n";
        out << "</ul>\n";
        break;
      case DocBlock::Kind::table: table(out, b.table); break;
      case DocBlock::Kind::figure: figure(out, b); break;
    }
  }
  out << "</main>\n</body>\n</html>\n";
  return out.str();
}

}  // namespace nl::lab
