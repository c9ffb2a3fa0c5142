// SharedDict and SharedList (Python's Manager().dict() and .list()): the same entries in
// every process that has them, on every start method; each call atomic; full, misused and
// abandoned containers fail clearly.
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <mp/mp.hpp>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "helpers/hygiene.hpp"
#include "helpers/start_methods.hpp"

namespace {

using namespace std::chrono_literals;
using SharedContainers = mp::test::StartMethodTest;
using SharedContainerBasics = mp::test::HygieneTest;

struct Sample {
  std::string label;
  std::vector<double> xs;
  bool operator==(const Sample&) const = default;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(label, xs);
  }
};

TEST_F(SharedContainerBasics, ADictKeepsWhatIsSetInTheOrderKeysCame) {
  mp::SharedDict<std::string, Sample> d;
  EXPECT_TRUE(d.empty());
  d.set("b", {"two", {2.0}});
  d.set("a", {"one", {1.0, 1.5}});
  d.set("c", {"three", {}});
  d.set("b", {"two again", {2.5}});  // keeps its place, as in Python's dict
  EXPECT_EQ(d.size(), 3u);
  EXPECT_EQ(d.get("a"), (Sample{"one", {1.0, 1.5}}));
  EXPECT_EQ(d.at("b"), (Sample{"two again", {2.5}}));
  EXPECT_EQ(d.get("zz"), std::nullopt);
  EXPECT_THROW(d.at("zz"), std::out_of_range);
  EXPECT_TRUE(d.contains("c"));
  EXPECT_EQ(d.keys(), (std::vector<std::string>{"b", "a", "c"}));
  EXPECT_TRUE(d.erase("a"));
  EXPECT_FALSE(d.erase("a"));
  d.set("a", {"back", {}});
  const auto items = d.items();
  ASSERT_EQ(items.size(), 3u);
  EXPECT_EQ(items[0].first, "b");
  EXPECT_EQ(items[1].first, "c");
  EXPECT_EQ(items[2].first, "a");
  EXPECT_EQ(items[2].second.label, "back");
  EXPECT_EQ(d.update("n",
                     [](std::optional<Sample> s) {
                       EXPECT_FALSE(s.has_value());
                       return Sample{"new", {}};
                     })
                .label,
            "new");
  d.clear();
  EXPECT_EQ(d.size(), 0u);
  EXPECT_FALSE(d.contains("b"));
}

TEST_F(SharedContainerBasics, AListAppendsSetsAndPops) {
  mp::SharedList<std::string> l;
  l.append("x");
  l.extend(std::vector<std::string>{"y", std::string(100000, 'z'), ""});
  EXPECT_EQ(l.size(), 4u);
  EXPECT_EQ(l.at(2), std::string(100000, 'z'));
  EXPECT_EQ(l.at(3), "");
  EXPECT_THROW(l.at(4), std::out_of_range);
  EXPECT_THROW(l.set(4, "no"), std::out_of_range);
  l.set(0, "first");
  EXPECT_EQ(l.pop(), "");
  EXPECT_EQ(l.to_vector(), (std::vector<std::string>{"first", "y", std::string(100000, 'z')}));
  l.clear();
  EXPECT_EQ(l.pop(), std::nullopt);
}

TEST_F(SharedContainerBasics, AFullContainerSaysSoAndKeepsWhatItHad) {
  mp::SharedDict<int, std::string> d(64 * 1024);
  int stored = 0;
  try {
    for (;; ++stored) {
      d.set(stored, std::string(1000, 'v'));
    }
  } catch (const std::length_error& e) {
    EXPECT_NE(std::string(e.what()).find("full"), std::string::npos) << e.what();
  }
  EXPECT_GT(stored, 10);
  EXPECT_EQ(d.size(), static_cast<std::size_t>(stored));
  EXPECT_FALSE(d.contains(stored));
  EXPECT_EQ(d.at(0), std::string(1000, 'v'));
  EXPECT_THROW(d.update(0, [](std::optional<std::string>) { return std::string(100000, 'w'); }),
               std::length_error);
  EXPECT_EQ(d.at(0), std::string(1000, 'v')) << "a failed update changed the entry";
  d.erase(0);
  d.set(stored, "fits again");
  EXPECT_THROW(mp::SharedList<int>(1000), std::invalid_argument);
}

TEST_F(SharedContainerBasics, MisuseIsAClearError) {
  mp::SharedDict<int, int> d;
  EXPECT_THROW(d.update(1, [&d](std::optional<int>) { return d.get(2).value_or(0); }),
               std::logic_error);
  EXPECT_EQ(d.size(), 0u);
  d.set(1, 1);  // the lock was released
  mp::SharedDict<int, mp::RawArray<int>> arrays;
  EXPECT_THROW(arrays.set(1, mp::RawArray<int>(4)), std::invalid_argument);
}

int count_words(mp::SharedDict<std::string, int> counts, std::vector<std::string> words) {
  for (const std::string& w : words) {
    counts.update(w, [](std::optional<int> n) { return n.value_or(0) + 1; });
  }
  return static_cast<int>(words.size());
}

void log_lines(mp::SharedList<std::string> log, int who, int lines) {
  for (int i = 0; i < lines; ++i) {
    log.append(std::to_string(who) + ":" + std::to_string(i));
  }
}

TEST_P(SharedContainers, PoolTasksCountIntoOneDictWithoutLosingAnUpdate) {
  mp::SharedDict<std::string, int> counts;
  const std::vector<std::string> vocabulary = {"the", "a", "of", "pool", "map"};
  std::vector<std::string> words;
  for (int i = 0; i < 2000; ++i) words.push_back(vocabulary[(i * 7) % vocabulary.size()]);
  std::map<std::string, int> want;
  for (const std::string& w : words) ++want[w];
  mp::Pool pool(options(2));
  std::vector<mp::AsyncResult<int>> done;
  for (std::size_t at = 0; at < words.size(); at += 250) {
    done.push_back(pool.apply_async(
        count_words, counts,
        std::vector<std::string>(words.begin() + static_cast<std::ptrdiff_t>(at),
                                 words.begin() + static_cast<std::ptrdiff_t>(at + 250))));
  }
  int total = 0;
  for (auto& r : done) total += r.get(60s);
  EXPECT_EQ(total, 2000);
  std::map<std::string, int> got;
  for (const auto& [w, n] : counts.items()) got[w] = n;
  EXPECT_EQ(got, want);
}

TEST_P(SharedContainers, ProcessesAppendToOneList) {
  mp::SharedList<std::string> log;
  log.append("parent");
  std::vector<mp::Process> ps;
  for (int who = 0; who < 3; ++who) ps.push_back(start_process(log_lines, log, who, 200));
  for (auto& p : ps) mp::test::join_ok(p, 60s);
  const std::vector<std::string> lines = log.to_vector();
  ASSERT_EQ(lines.size(), 601u);
  EXPECT_EQ(lines[0], "parent");
  for (int who = 0; who < 3; ++who) {  // each process's lines in its own order
    int next = 0;
    for (const std::string& line : lines) {
      if (line.rfind(std::to_string(who) + ":", 0) == 0) {
        EXPECT_EQ(line, std::to_string(who) + ":" + std::to_string(next));
        ++next;
      }
    }
    EXPECT_EQ(next, 200);
  }
}

MP_TEST_ALL_START_METHODS(SharedContainers);

}  // namespace
