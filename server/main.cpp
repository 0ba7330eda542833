#include "cg/server/application.hpp"

int main(int argc, char** argv) { return cg::server::run_server(argc, argv); }
