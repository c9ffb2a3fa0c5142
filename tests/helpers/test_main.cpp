// The main of every test program: mp::init first, so that a test binary started again by
// exec (a spawned worker, the fork server) becomes that process instead of rerunning the
// tests.
#include <gtest/gtest.h>

#include <mp/start_method.hpp>

int main(int argc, char** argv) {
  mp::init(argc, argv);
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
