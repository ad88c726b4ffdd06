// Text into HTML: the five characters that would start markup or end an attribute, escaped.
// Shared by report.html's task sections (report_html.cpp) and its privacy panel (report_privacy.cpp).
#pragma once

#include <string>

namespace clinfm {

inline std::string html_escape(const std::string& text) {
  std::string out;
  for (char character : text) {
    switch (character) {
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += character;
    }
  }
  return out;
}

}  // namespace clinfm
