// An input range over a source that hands out its items one at a time: Derived provides
// `std::optional<T> next()` (std::nullopt at the end), and gets begin()/end() for
// range-for loops. Results of imap, Executor::map and as_completed are such ranges.
#pragma once

#include <cstddef>
#include <iterator>
#include <optional>

namespace mp::detail {

template <class Derived, class T>
class PullRange {
 public:
  class iterator {
   public:
    using value_type = T;
    using difference_type = std::ptrdiff_t;
    iterator() = default;
    T& operator*() const { return *owner_->pulled_; }
    iterator& operator++() {
      owner_->pull();
      return *this;
    }
    void operator++(int) { ++*this; }
    friend bool operator==(const iterator& it, std::default_sentinel_t) { return it.at_end(); }

   private:
    friend class PullRange;
    explicit iterator(PullRange* owner) : owner_(owner) {}
    bool at_end() const { return !owner_->pulled_.has_value(); }
    PullRange* owner_ = nullptr;
  };

  iterator begin() {
    pull();
    return iterator(this);
  }
  std::default_sentinel_t end() const { return {}; }

 private:
  void pull() { pulled_ = static_cast<Derived*>(this)->next(); }
  std::optional<T> pulled_;
};

}  // namespace mp::detail
