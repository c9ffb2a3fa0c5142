// mp::Memory's entries in an SQLite database: one connection per directory and process,
// write-ahead logging so that readers never wait for a writer, a checksum per entry, and
// least-recently-used eviction under a byte limit.
#include "mp/detail/cache_store.hpp"

#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <string>
#include <system_error>

#include "mp/errors.hpp"
#include "mp/memory.hpp"

namespace mp::detail {

namespace {

constexpr int kFormat = 1;  // of the tables below; another number is another program's

// A function's entries are found by a hash of its identity (which runs to hundreds of
// bytes): eight bytes per entry.
std::int64_t function_id(std::string_view function) {
  return static_cast<std::int64_t>(XXH3_64bits(function.data(), function.size()));
}

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A prepared statement, reset after each use.
class Statement {
 public:
  Statement(sqlite3* db, const char* sql) {
    if (sqlite3_prepare_v2(db, sql, -1, &s_, nullptr) != SQLITE_OK) {
      throw CacheError(std::string("mp: Memory: ") + sqlite3_errmsg(db) + " (" + sql + ")");
    }
  }
  ~Statement() { sqlite3_finalize(s_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  Statement& key(int at, const CacheKey& k) {
    std::byte b[16];
    std::memcpy(b, &k.high, 8);
    std::memcpy(b + 8, &k.low, 8);
    sqlite3_bind_blob(s_, at, b, sizeof b, SQLITE_TRANSIENT);
    return *this;
  }
  Statement& integer(int at, std::int64_t v) {
    sqlite3_bind_int64(s_, at, v);
    return *this;
  }
  Statement& blob(int at, const std::byte* data, std::size_t n) {
    sqlite3_bind_blob64(s_, at, data, n, SQLITE_STATIC);
    return *this;
  }
  // SQLITE_ROW or SQLITE_DONE; anything else is returned for the caller to judge.
  int step() { return sqlite3_step(s_); }
  void reset() {
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
  }
  sqlite3_stmt* get() { return s_; }

 private:
  sqlite3_stmt* s_ = nullptr;
};

// Resets a statement however the scope is left.
struct Using {
  explicit Using(Statement& s) : s(s) {}
  ~Using() { s.reset(); }
  Statement& s;
};

class SqliteStore final : public CacheStore {
 public:
  SqliteStore(const MemoryOptions& options)
      : location_(options.location), limit_(options.bytes_limit) {
    std::error_code ec;
    std::filesystem::create_directories(location_, ec);
    if (ec) {
      throw CacheError("mp: Memory cannot create its directory " + location_ + ": " + ec.message());
    }
    const std::string path = location_ + "/cache.db";
    const int rc =
        sqlite3_open_v2(path.c_str(), &db_,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
    if (rc != SQLITE_OK) {
      const std::string why = db_ != nullptr ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
      sqlite3_close(db_);
      throw CacheError("mp: Memory cannot open " + path + ": " + why);
    }
    try {
      set_up(path);
    } catch (...) {
      sqlite3_close(db_);
      throw;
    }
    get_ = std::make_unique<Statement>(
        db_, "SELECT value, checksum, last_used FROM mp_cache_entries WHERE key = ?1");
    has_ = std::make_unique<Statement>(db_, "SELECT 1 FROM mp_cache_entries WHERE key = ?1");
    touch_ = std::make_unique<Statement>(
        db_, "UPDATE mp_cache_entries SET last_used = ?2 WHERE key = ?1");
    put_ = std::make_unique<Statement>(
        db_,
        "INSERT OR REPLACE INTO mp_cache_entries (key, function, bytes, checksum, last_used, "
        "value) VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
    drop_ = std::make_unique<Statement>(db_, "DELETE FROM mp_cache_entries WHERE key = ?1");
  }

  ~SqliteStore() override {
    if (!opened_here()) {
      return;  // inherited through fork: the parent's connection, never closed here
    }
    get_.reset();
    has_.reset();
    touch_.reset();
    put_.reset();
    drop_.reset();
    sqlite3_close(db_);
  }

  bool lookup(const CacheKey& key, std::vector<std::byte>& out) override {
    std::lock_guard lock(m_);
    bool corrupt = false;
    std::int64_t last_used = 0;
    {
      Using u(*get_);
      const int rc = get_->key(1, key).step();
      if (rc != SQLITE_ROW) {
        return false;  // absent, or unreadable right now: computed again
      }
      const auto* data = static_cast<const std::byte*>(sqlite3_column_blob(get_->get(), 0));
      const auto n = static_cast<std::size_t>(sqlite3_column_bytes(get_->get(), 0));
      const auto checksum = static_cast<std::uint64_t>(sqlite3_column_int64(get_->get(), 1));
      last_used = sqlite3_column_int64(get_->get(), 2);
      if (XXH3_64bits(data, n) != checksum) {
        corrupt = true;
      } else {
        out.assign(data, data + n);
      }
    }
    if (corrupt) {
      drop_locked(key);
      return false;
    }
    // At most one write per entry and second: a hit stays a read.
    const std::int64_t now = now_ms();
    if (now - last_used >= 1000) {
      Using u(*touch_);
      touch_->key(1, key).integer(2, now).step();
    }
    return true;
  }

  bool contains(const CacheKey& key) override {
    std::lock_guard lock(m_);
    Using u(*has_);
    return has_->key(1, key).step() == SQLITE_ROW;
  }

  void store(const CacheKey& key, std::string_view function, const std::byte* data,
             std::size_t size) override {
    if (limit_ != 0 && size > limit_) {
      return;
    }
    std::lock_guard lock(m_);
    int rc = SQLITE_OK;
    {
      Using u(*put_);
      rc = put_->key(1, key)
               .integer(2, function_id(function))
               .integer(3, static_cast<std::int64_t>(size))
               .integer(4, static_cast<std::int64_t>(XXH3_64bits(data, size)))
               .integer(5, now_ms())
               .blob(6, data, size)
               .step();
    }
    if (rc != SQLITE_DONE) {
      warn_once(rc);
      return;
    }
    if (limit_ != 0) {
      evict_beyond_limit();
    }
  }

  void drop(const CacheKey& key) override {
    std::lock_guard lock(m_);
    drop_locked(key);
  }

  void clear() override {
    std::lock_guard lock(m_);
    exec("DELETE FROM mp_cache_entries");
  }

  void clear_function(std::string_view function) override {
    std::lock_guard lock(m_);
    Statement s(db_, "DELETE FROM mp_cache_entries WHERE function = ?1");
    s.integer(1, function_id(function)).step();
  }

  std::uint64_t size_bytes() override {
    std::lock_guard lock(m_);
    return query_count("SELECT total(bytes) FROM mp_cache_entries");
  }

  std::uint64_t entries() override {
    std::lock_guard lock(m_);
    return query_count("SELECT count(*) FROM mp_cache_entries");
  }

 private:
  void set_up(const std::string& path) {
    sqlite3_busy_timeout(db_, 60'000);  // other processes writing the same cache
    // A file that is not a database fails here, at its first read.
    const int tables = static_cast<int>(
        query_count("SELECT count(*) FROM sqlite_master WHERE type = 'table'", path));
    if (tables > 0) {
      const std::int64_t format = query_count(
          "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'mp_cache_meta'",
          path);
      if (format == 0) {
        throw CacheError("mp: Memory: " + path +
                         " is an SQLite database of another program, not a cache");
      }
      const std::int64_t version =
          query_count("SELECT value FROM mp_cache_meta WHERE name = 'format'", path);
      if (version != kFormat) {
        throw CacheError("mp: Memory: " + path + " holds cache format " + std::to_string(version) +
                         ", this program reads " + std::to_string(kFormat));
      }
    }
    exec("PRAGMA journal_mode = WAL");
    exec("PRAGMA synchronous = NORMAL");
    exec(
        "CREATE TABLE IF NOT EXISTS mp_cache_meta (name TEXT PRIMARY KEY, value INTEGER);"
        "INSERT OR IGNORE INTO mp_cache_meta VALUES ('format', " +
        std::to_string(kFormat) +
        ");"
        "CREATE TABLE IF NOT EXISTS mp_cache_entries (key BLOB PRIMARY KEY, function INTEGER "
        "NOT NULL, bytes INTEGER NOT NULL, checksum INTEGER NOT NULL, last_used INTEGER NOT NULL, "
        "value BLOB NOT NULL) WITHOUT ROWID;"
        "CREATE INDEX IF NOT EXISTS mp_cache_lru ON mp_cache_entries (last_used);");
  }

  void exec(const std::string& sql) {
    char* error = nullptr;
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error) != SQLITE_OK) {
      const std::string why = error != nullptr ? error : sqlite3_errmsg(db_);
      sqlite3_free(error);
      throw CacheError("mp: Memory (" + location_ + "): " + why);
    }
  }

  std::int64_t query_count(const char* sql, const std::string& path = {}) {
    Statement s(db_, sql);
    const int rc = s.step();
    if (rc == SQLITE_ROW) {
      return sqlite3_column_int64(s.get(), 0);
    }
    if (rc == SQLITE_DONE) {
      return 0;
    }
    throw CacheError("mp: Memory: " + (path.empty() ? location_ : path) + ": " +
                     sqlite3_errmsg(db_));
  }

  void drop_locked(const CacheKey& key) {
    Using u(*drop_);
    drop_->key(1, key).step();
  }

  // The least recently used entries go until the rest fits the limit.
  void evict_beyond_limit() {
    std::int64_t total = query_count("SELECT total(bytes) FROM mp_cache_entries");
    if (total <= static_cast<std::int64_t>(limit_)) {
      return;
    }
    Statement oldest(db_, "SELECT key, bytes FROM mp_cache_entries ORDER BY last_used, key");
    std::vector<std::vector<std::byte>> doomed;
    while (total > static_cast<std::int64_t>(limit_) && oldest.step() == SQLITE_ROW) {
      const auto* k = static_cast<const std::byte*>(sqlite3_column_blob(oldest.get(), 0));
      doomed.emplace_back(k, k + sqlite3_column_bytes(oldest.get(), 0));
      total -= sqlite3_column_int64(oldest.get(), 1);
    }
    oldest.reset();
    Statement del(db_, "DELETE FROM mp_cache_entries WHERE key = ?1");
    for (const auto& k : doomed) {
      del.blob(1, k.data(), k.size()).step();
      del.reset();
    }
  }

  void warn_once(int rc) {
    if (!warned_) {
      warned_ = true;
      std::fprintf(stderr,
                   "mp: Memory could not store a result in %s (%s); results not stored are "
                   "computed again when asked for\n",
                   location_.c_str(), sqlite3_errstr(rc));
    }
  }

  std::string location_;
  std::uint64_t limit_;
  sqlite3* db_ = nullptr;
  std::mutex m_;
  bool warned_ = false;
  std::unique_ptr<Statement> get_, has_, touch_, put_, drop_;
};

// The stores open in this process, by directory and limit, while a Memory or a cached
// function holds them. One inherited through fork is not this process's: a new one opens.
struct Registry {
  std::mutex m;
  std::map<std::pair<std::string, std::uint64_t>, std::weak_ptr<SqliteStore>> stores;
};

}  // namespace

CacheStore::CacheStore() : opener_(::getpid()) {}

bool CacheStore::opened_here() const { return ::getpid() == opener_; }

std::shared_ptr<CacheStore> CacheStore::of(const MemoryOptions& options) {
  static auto* registry = new Registry;  // outlives static destruction: tasks may run late
  std::error_code ec;
  const std::filesystem::path where = std::filesystem::absolute(options.location, ec);
  const auto key = std::make_pair(ec ? options.location : where.lexically_normal().string(),
                                  options.bytes_limit);
  std::lock_guard lock(registry->m);
  std::erase_if(registry->stores, [](const auto& entry) { return entry.second.expired(); });
  auto& slot = registry->stores[key];
  std::shared_ptr<SqliteStore> store = slot.lock();
  if (!store || !store->opened_here()) {
    store = std::make_shared<SqliteStore>(options);
    slot = store;
  }
  return store;
}

}  // namespace mp::detail
