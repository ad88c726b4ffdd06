// The `clinfm` executable. Everything happens in cli_main (app/cli.cpp).
#include "app/cli.h"
#include "common/malloc_tuning.h"

int main(int argc, char** argv) {
  clinfm::tune_malloc_for_tensors();
  return clinfm::cli_main(argc, argv);
}
