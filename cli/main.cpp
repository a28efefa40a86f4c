#include "app.hpp"

int main(int argc, char** argv) { return vmlab::cli::run(argc, argv); }
