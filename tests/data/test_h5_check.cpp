// H5_CHECK on real bad input: a file that is not HDF5 and a truncated HDF5 file. The error must
// carry HDF5's own text, the call, and the hint.
#include <gtest/gtest.h>
#include <hdf5.h>

#include <filesystem>
#include <fstream>

#include "common/check.h"
#include "data/h5_error.h"

namespace clinfm {
namespace {
namespace fs = std::filesystem;

class H5CheckTest : public ::testing::Test {
 protected:
  void SetUp() override {
    silence_hdf5_errors();
    dir_ = fs::temp_directory_path() / ("clinfm-h5-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(H5CheckTest, NotAnHdf5File) {
  const std::string path = (dir_ / "shard-000.h5").string();
  std::ofstream(path) << "subject_id,time,code\n1,2020-01-01,ICD10//I10\n";
  try {
    H5_CHECK(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT));
    FAIL() << "H5Fopen of a CSV file succeeded";
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("HDF5 call failed"), std::string::npos) << what;
    EXPECT_NE(what.find("H5Fopen"), std::string::npos) << what;
    EXPECT_NE(what.find("unable to open file"), std::string::npos) << what;
    EXPECT_NE(e.hint().find("h5dump"), std::string::npos);
    EXPECT_NE(e.where().find("test_h5_check.cpp"), std::string::npos);
  }
}

TEST_F(H5CheckTest, TruncatedFileAndGoodFile) {
  const std::string path = (dir_ / "good.h5").string();
  const hid_t file = H5_CHECK(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT));
  const hsize_t n = 4096;
  const hid_t space = H5_CHECK(H5Screate_simple(1, &n, nullptr));
  const hid_t data =
      H5_CHECK(H5Dcreate2(file, "token_id", H5T_NATIVE_INT32, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
  std::vector<int32_t> values(n, 7);
  H5_CHECK(H5Dwrite(data, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()));
  H5_CHECK(H5Dclose(data));
  H5_CHECK(H5Sclose(space));
  H5_CHECK(H5Fclose(file));

  const hid_t reopened = H5_CHECK(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT));
  EXPECT_GE(reopened, 0);
  H5_CHECK(H5Fclose(reopened));

  fs::resize_file(path, fs::file_size(path) / 2);
  EXPECT_THROW(
      {
        const hid_t f = H5_CHECK(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT));
        const hid_t d = H5_CHECK(H5Dopen2(f, "token_id", H5P_DEFAULT));
        H5_CHECK(H5Dread(d, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()));
      },
      Error);
}

}  // namespace
}  // namespace clinfm
