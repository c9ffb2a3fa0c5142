// Values survive encode + decode unchanged, on each of the codec's paths.
#include <gtest/gtest.h>

#include <map>
#include <mp/serialize.hpp>
#include <numeric>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <variant>
#include <vector>

#include "mp/errors.hpp"

namespace {

using mp::detail::Reader;
using mp::detail::VectorWriter;

template <class T>
T round_trip(const T& v) {
  VectorWriter w;
  mp::detail::encode(w, v);
  Reader r(w.data(), w.size());
  T out{};
  mp::detail::decode(r, out);
  EXPECT_EQ(r.remaining(), 0u);
  return out;
}

struct Pod {
  int a;
  double b;
  bool operator==(const Pod&) const = default;
};

struct WithSerialize {
  std::string label;
  std::vector<double> xs;
  std::map<std::string, int> counts;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(label, xs, counts);
  }
  bool operator==(const WithSerialize&) const = default;
};

TEST(Codec, TriviallyCopyableIsBytes) {
  EXPECT_EQ(round_trip(42), 42);
  EXPECT_EQ(round_trip(-1.5), -1.5);
  EXPECT_EQ(round_trip(Pod{3, 4.5}), (Pod{3, 4.5}));
  VectorWriter w;
  mp::detail::encode(w, Pod{1, 2});
  EXPECT_EQ(w.size(), sizeof(Pod));
}

TEST(Codec, StringsAndVectors) {
  EXPECT_EQ(round_trip(std::string()), "");
  EXPECT_EQ(round_trip(std::string("hello\0world", 11)), std::string("hello\0world", 11));
  std::vector<int> big(100000);
  for (int i = 0; i < 100000; ++i) big[static_cast<std::size_t>(i)] = i * 7;
  EXPECT_EQ(round_trip(big), big);
  EXPECT_EQ(round_trip(std::vector<bool>{true, false, true}),
            (std::vector<bool>{true, false, true}));
  std::vector<std::string> words{"a", "", "ccc"};
  EXPECT_EQ(round_trip(words), words);
}

template <class T>
T decode_with(mp::detail::PreparedStorage<T>& storage, const T& v) {
  VectorWriter w;
  mp::detail::encode(w, v);
  Reader r(w.data(), w.size());
  T out{};
  storage.decode(r, out);
  EXPECT_EQ(r.remaining(), 0u);
  return out;
}

TEST(PreparedStorage, GoesToTheValueOfItsSizeOnly) {
  mp::detail::PreparedStorage<std::vector<double>> storage;
  storage.prepare(1000 * sizeof(double));
  EXPECT_EQ(storage.held_bytes(), 1000 * sizeof(double));
  storage.prepare(5000 * sizeof(double));  // one block at a time: the first stays
  EXPECT_EQ(storage.held_bytes(), 1000 * sizeof(double));

  // A value of another size neither takes the block nor inherits its capacity.
  const std::vector<double> small(500, 1.5);
  const std::vector<double> got_small = decode_with(storage, small);
  EXPECT_EQ(got_small, small);
  EXPECT_EQ(got_small.capacity(), small.size());
  EXPECT_EQ(storage.held_bytes(), 1000 * sizeof(double));

  std::vector<double> exact(1000);
  std::iota(exact.begin(), exact.end(), 0.0);
  const std::vector<double> got_exact = decode_with(storage, exact);
  EXPECT_EQ(got_exact, exact);
  EXPECT_EQ(got_exact.capacity(), exact.size());
  EXPECT_EQ(storage.held_bytes(), 0u);
}

TEST(PreparedStorage, StringsTakeItAndOtherTypesIgnoreIt) {
  mp::detail::PreparedStorage<std::string> text;
  text.prepare(100000);
  const std::string s(100000, 'q');
  EXPECT_EQ(decode_with(text, s), s);
  EXPECT_EQ(text.held_bytes(), 0u);

  mp::detail::PreparedStorage<std::map<int, int>> map;
  map.prepare(1 << 20);
  EXPECT_EQ(map.held_bytes(), 0u);
  const std::map<int, int> m{{1, 2}, {3, 4}};
  EXPECT_EQ(decode_with(map, m), m);
}

TEST(Codec, TuplesPairsOptionals) {
  auto t = std::make_tuple(1, std::string("x"), std::vector<double>{1.5, 2.5});
  EXPECT_EQ(round_trip(t), t);
  auto p = std::make_pair(std::string("k"), 3L);
  EXPECT_EQ(round_trip(p), p);
  EXPECT_EQ(round_trip(std::optional<std::string>()), std::nullopt);
  EXPECT_EQ(round_trip(std::optional<std::string>("v")), std::optional<std::string>("v"));
}

TEST(Codec, CerealTypes) {
  std::map<std::string, std::vector<int>> m{{"a", {1, 2}}, {"b", {}}};
  EXPECT_EQ(round_trip(m), m);
  std::set<int> s{5, 1, 3};
  EXPECT_EQ(round_trip(s), s);
  std::variant<int, std::string> v = std::string("alt");
  EXPECT_EQ(round_trip(v), v);
  WithSerialize w{"pts", {1.0, 2.0}, {{"n", 2}}};
  EXPECT_EQ(round_trip(w), w);
  std::vector<WithSerialize> ws{w, w};
  EXPECT_EQ(round_trip(ws), ws);
}

TEST(Codec, TruncatedInputThrowsSerializationError) {
  VectorWriter w;
  mp::detail::encode(w, std::string("a long enough string"));
  Reader r(w.data(), w.size() - 3);
  std::string out;
  EXPECT_THROW(mp::detail::decode(r, out), mp::SerializationError);

  // A garbage length prefix must not allocate its claimed size.
  const std::uint64_t huge = ~std::uint64_t{0} / 2;
  Reader r2(reinterpret_cast<const std::byte*>(&huge), sizeof huge);
  std::vector<std::string> vs;
  EXPECT_THROW(mp::detail::decode(r2, vs), mp::SerializationError);
}

TEST(Codec, ACerealTypesClaimedSizeIsCheckedBeforeItIsAllocated) {
  // A WithSerialize whose label claims 2^40 characters and whose message ends there: the
  // read fails on the claim, instead of making a 1 TiB string first.
  VectorWriter w;
  const std::uint64_t claim = std::uint64_t{1} << 40;
  w.write(&claim, sizeof claim);
  w.write("abc", 3);
  Reader r(w.data(), w.size());
  WithSerialize out;
  try {
    mp::detail::decode(r, out);
    ADD_FAILURE() << "a claim of 2^40 characters was accepted";
  } catch (const mp::SerializationError& e) {
    EXPECT_NE(std::string(e.what()).find("malformed message"), std::string::npos) << e.what();
  }
  // Cut anywhere, a real message is a SerializationError too.
  VectorWriter full;
  mp::detail::encode(full, WithSerialize{"pts", {1.0, 2.0}, {{"n", 2}}});
  for (std::size_t cut = 0; cut < full.size(); ++cut) {
    Reader part(full.data(), cut);
    WithSerialize v;
    EXPECT_THROW(mp::detail::decode(part, v), mp::SerializationError) << "cut at " << cut;
  }
}

TEST(Codec, TransferabilityIsKnownAtCompileTime) {
  static_assert(mp::detail::is_transferable_v<int>);
  static_assert(mp::detail::is_transferable_v<std::vector<std::string>>);
  static_assert(mp::detail::is_transferable_v<WithSerialize>);
  static_assert(!mp::detail::is_transferable_v<int*>);
  struct Opaque {
    std::string s;
  };
  static_assert(!mp::detail::is_transferable_v<Opaque>);
  SUCCEED();
}

}  // namespace
