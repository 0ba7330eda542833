// The one translation unit that compiles Asio and Beast (separate compilation; see server/CMakeLists.txt).
#include <boost/asio/impl/src.hpp>
#include <boost/beast/src.hpp>
