// Which sanitizer instruments this test build: some scenarios cannot run under one (an
// address-space limit under the sanitizers' terabyte reservations). g++ defines
// __SANITIZE_*__; clang++ answers __has_feature.
#pragma once

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define MP_TEST_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define MP_TEST_SANITIZED 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define MP_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MP_TEST_ASAN 1
#endif
#endif

namespace mp::test {
// How many children a "thousand in a row" fault test starts. A child of a sanitized build
// takes ~0.1 s to exec and set up its shadow memory, so 1000 spawned ones come near a
// test's timeout; a leak per child shows in 250 too.
#if defined(MP_TEST_SANITIZED)
inline constexpr int kChildrenInARow = 250;
#else
inline constexpr int kChildrenInARow = 1000;
#endif
}  // namespace mp::test
