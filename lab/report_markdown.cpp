// The report as Markdown (report.md): GitHub-flavoured tables, figures linked from the
// figures/ folder beside it.
#include <sstream>

#include "lab/report_doc.h"

namespace nl::lab {
namespace {

// A table cell on one line with its pipes escaped.
std::string cell_text(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '|') out += "\\|";
    else if (c == '\n') out += ' ';
    else out += c;
  }
  return out;
}

void table(std::ostringstream& out, const DocTable& t) {
  out << "|";
  for (const std::string& h : t.header) out << " " << cell_text(h) << " |";
  out << "\n|";
  for (size_t i = 0; i < t.header.size(); ++i) out << "---|";
  out << "\n";
  for (const auto& row : t.rows) {
    out << "|";
    for (const std::string& c : row) out << " " << cell_text(c) << " |";
    out << "\n";
  }
}

}  // namespace

std::string render_markdown(const Doc& doc) {
  std::ostringstream out;
  for (const DocBlock& b : doc.blocks) {
    switch (b.kind) {
      case DocBlock::Kind::heading: out << std::string(b.level, '#') << " " << b.text << "\n"; break;
      case DocBlock::Kind::paragraph: out << b.text << "\n"; break;
      case DocBlock::Kind::code: out << "```sh\n" << b.text << "\n```\n"; break;
      case DocBlock::Kind::list:
        for (const std::string& item : b.items) out << "- " << item << "\n";
        break;
      case DocBlock::Kind::table: table(out, b.table); break;
      case DocBlock::Kind::figure: out << "![" << cell_text(b.text) << "](" << b.figure_rel << ")\n\n*" << b.text << "*\n"; break;
    }
    out << "\n";
  }
  return out.str();
}

}  // namespace nl::lab
