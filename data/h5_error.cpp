// The text of HDF5's error stack for H5_CHECK (common/check.h). HDF5 prints its stack to stderr
// by default; clinfm turns that off (silence_hdf5_errors) and puts the text in the exception.
#include "data/h5_error.h"

#include <hdf5.h>

#include <string>

#include "common/check.h"

namespace clinfm {
namespace {

herr_t collect(unsigned depth, const H5E_error2_t* entry, void* out) {
  auto* text = static_cast<std::string*>(out);
  if (!text->empty()) *text += "; ";
  *text += entry->desc ? entry->desc : "(no description)";
  if (entry->func_name) *text += std::string(" (in ") + entry->func_name + ")";
  return depth < 8 ? 0 : 1;  // the innermost few frames say what went wrong
}

}  // namespace

void silence_hdf5_errors() { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); }

}  // namespace clinfm

std::string clinfm::detail::h5_error_text() {
  std::string text;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, clinfm::collect, &text);
  H5Eclear2(H5E_DEFAULT);
  return text;
}
