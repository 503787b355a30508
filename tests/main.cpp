// The one translation unit that holds Catch2's main (Catch2 v2 single header).
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
