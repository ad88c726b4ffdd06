// The `clinfm` executable. Everything happens in cli_main (app/cli.cpp).
#include "app/cli.h"

int main(int argc, char** argv) { return clinfm::cli_main(argc, argv); }
