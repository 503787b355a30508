// The report as a small document model, built once (lab/report_content.cpp) and written
// twice: as Markdown (lab/report_markdown.cpp) and as self-contained HTML
// (lab/report_html.cpp), so the two files always say the same thing. Text may use two inline
// marks, **bold** and `code`; everything else is plain text (escaped by each writer).
#pragma once
#include <string>
#include <vector>

#include "lab/results.h"

namespace nl::lab {

struct DocTable {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
  int verdict_column = -1;  // a column whose cells start with a verdict (styled in HTML)
};

struct DocBlock {
  enum class Kind { heading, paragraph, code, list, table, figure } kind = Kind::paragraph;
  int level = 2;                    // heading: 1..4
  std::string text;                 // heading / paragraph / code; figure: caption
  std::string anchor;               // heading: id for links
  std::vector<std::string> items;   // list
  DocTable table;
  std::string figure_file;          // figure: full path of the SVG
  std::string figure_rel;           // figure: path relative to the sweep folder (Markdown link)
};

struct Doc {
  std::string title;
  std::vector<DocBlock> blocks;

  void heading(int level, const std::string& text, const std::string& anchor = "");
  void paragraph(const std::string& text);
  void code(const std::string& text);
  void list(const std::vector<std::string>& items);
  void table(DocTable t);
  void figure(const std::string& file, const std::string& rel, const std::string& caption);
};

std::string render_markdown(const Doc& doc);
std::string render_html(const Doc& doc);  // figures inlined as base64 data URIs

}  // namespace nl::lab
