// HDF5 error reporting: clinfm reports HDF5 failures through H5_CHECK exceptions, not through
// HDF5's own printing to stderr.
#pragma once

namespace clinfm {

// Turns off HDF5's automatic error printing for the calling process.
void silence_hdf5_errors();

}  // namespace clinfm
