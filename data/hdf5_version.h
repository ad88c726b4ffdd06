// The HDF5 version clinfm was compiled against and the one loaded at run time, for
// `clinfm doctor`. A mismatch means the headers and the shared library come from different
// installs (HDF5 itself aborts on first use in that case unless HDF5_DISABLE_VERSION_CHECK is set).
#pragma once

#include <string>

namespace clinfm {

struct Hdf5Versions {
  std::string header;   // "1.10.8", from H5_VERS_* at compile time
  std::string runtime;  // "1.10.8", from H5get_libversion in the loaded libhdf5
};

Hdf5Versions hdf5_versions();

}  // namespace clinfm
