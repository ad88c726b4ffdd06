#include "data/hdf5_version.h"

#include <fmt/format.h>
#include <hdf5.h>

#include "common/check.h"

namespace clinfm {

Hdf5Versions hdf5_versions() {
  unsigned major = 0, minor = 0, release = 0;
  H5_CHECK(H5get_libversion(&major, &minor, &release));
  return {fmt::format("{}.{}.{}", H5_VERS_MAJOR, H5_VERS_MINOR, H5_VERS_RELEASE),
          fmt::format("{}.{}.{}", major, minor, release)};
}

}  // namespace clinfm
