// mp::Memory's entries in an SQLite database: one connection per directory and process,
// write-ahead logging so that readers never wait for a writer, a checksum per entry, and
// least-recently-used eviction under a byte limit.
#include "mp/detail/cache_store.hpp"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <string>
#include <system_error>
#include <tuple>

#include "mp/errors.hpp"
#include "mp/memory.hpp"

namespace mp::detail {

namespace {

// Of the tables below. A cache of another format (another version of mp) is emptied and
// made again: its entries are only ever recomputed.
constexpr int kFormat = 2;

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

// A key as the 16 bytes of its column.
std::array<std::byte, 16> key_bytes(const CacheKey& k) {
  std::array<std::byte, 16> b;
  std::memcpy(b.data(), &k.high, 8);
  std::memcpy(b.data() + 8, &k.low, 8);
  return b;
}

// The file of a large result: its key in hex.
std::string file_name(const std::byte* key) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string name;
  for (int i = 0; i < 16; ++i) {
    const auto b = static_cast<unsigned>(key[i]);
    name += kHex[b >> 4];
    name += kHex[b & 15];
  }
  return name + ".bin";
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
    const auto b = key_bytes(k);
    sqlite3_bind_blob(s_, at, b.data(), static_cast<int>(b.size()), SQLITE_TRANSIENT);
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
      : location_(options.location),
        results_(options.location + "/results"),
        limit_(options.bytes_limit),
        threshold_(options.file_threshold) {
    std::error_code ec;
    std::filesystem::create_directories(results_, ec);
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
        db_,
        "SELECT value, checksum, last_used, in_file, bytes FROM mp_cache_entries WHERE key = ?1");
    has_ = std::make_unique<Statement>(db_, "SELECT 1 FROM mp_cache_entries WHERE key = ?1");
    touch_ = std::make_unique<Statement>(
        db_, "UPDATE mp_cache_entries SET last_used = ?2 WHERE key = ?1");
    put_ = std::make_unique<Statement>(
        db_,
        "INSERT OR REPLACE INTO mp_cache_entries (key, function, bytes, checksum, last_used, "
        "value, in_file) VALUES (?1, ?2, ?3, ?4, "
        // Later than every entry stored before, even within the same millisecond, so
        // that eviction takes the older of two entries stored back to back.
        "max(?5, (SELECT coalesce(max(last_used), 0) + 1 FROM mp_cache_entries)), ?6, ?7)");
    drop_ = std::make_unique<Statement>(db_, "DELETE FROM mp_cache_entries WHERE key = ?1");
  }

  ~SqliteStore() override {
    if (!opened_here()) {
      // Inherited through fork: the parent's connection and statements, never touched here.
      for (auto* s : {&get_, &has_, &touch_, &put_, &drop_}) {
        static_cast<void>(s->release());
      }
      return;
    }
    get_.reset();
    has_.reset();
    touch_.reset();
    put_.reset();
    drop_.reset();
    sqlite3_close(db_);
  }

  bool lookup(const CacheKey& key, CachedBytes& out) override {
    std::lock_guard lock(m_);
    bool found = false;
    std::int64_t last_used = 0;
    {
      Using u(*get_);
      if (get_->key(1, key).step() != SQLITE_ROW) {
        return false;  // absent, or unreadable right now: computed again
      }
      sqlite3_stmt* row = get_->get();
      const auto checksum = static_cast<std::uint64_t>(sqlite3_column_int64(row, 1));
      last_used = sqlite3_column_int64(row, 2);
      if (sqlite3_column_int64(row, 3) != 0) {
        found =
            read_file(key, static_cast<std::uint64_t>(sqlite3_column_int64(row, 4)), checksum, out);
      } else {
        const auto* data = static_cast<const std::byte*>(sqlite3_column_blob(row, 0));
        const auto n = static_cast<std::size_t>(sqlite3_column_bytes(row, 0));
        if (XXH3_64bits(data, n) == checksum) {
          out.hold(std::vector<std::byte>(data, data + n));
          found = true;
        }
      }
    }
    if (!found) {
      drop_locked(key);  // corrupt, or its file is gone
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
    const bool in_file = size >= threshold_;
    if (in_file && !write_file(key, data, size)) {
      return;
    }
    int rc = SQLITE_OK;
    {
      Using u(*put_);
      rc = put_->key(1, key)
               .integer(2, function_id(function))
               .integer(3, static_cast<std::int64_t>(size))
               .integer(4, static_cast<std::int64_t>(XXH3_64bits(data, size)))
               .integer(5, now_ms())
               .blob(6, data, in_file ? 0 : size)
               .integer(7, in_file ? 1 : 0)
               .step();
    }
    if (rc != SQLITE_DONE) {
      if (in_file) {
        unlink_file(key_bytes(key).data());
      }
      warn_once(sqlite3_errstr(rc));
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
    remove_result_files();
  }

  void clear_function(std::string_view function) override {
    std::lock_guard lock(m_);
    Statement files(db_, "SELECT key FROM mp_cache_entries WHERE function = ?1 AND in_file");
    files.integer(1, function_id(function));
    while (files.step() == SQLITE_ROW) {
      unlink_file(static_cast<const std::byte*>(sqlite3_column_blob(files.get(), 0)));
    }
    files.reset();
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
        exec("BEGIN IMMEDIATE");
        // Another process may have made it again meanwhile.
        if (query_count("SELECT value FROM mp_cache_meta WHERE name = 'format'", path) != kFormat) {
          exec("DROP TABLE IF EXISTS mp_cache_entries; DELETE FROM mp_cache_meta");
          remove_result_files();
        }
        exec("COMMIT");
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
        "value BLOB NOT NULL, in_file INTEGER NOT NULL) WITHOUT ROWID;"
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
    {
      Using u(*drop_);
      drop_->key(1, key).step();
    }
    unlink_file(key_bytes(key).data());
  }

  // Every large result's file (the whole cache is being emptied).
  void remove_result_files() {
    std::error_code ec;
    for (const auto& f : std::filesystem::directory_iterator(results_, ec)) {
      std::filesystem::remove(f.path(), ec);
    }
  }

  std::string path_of(const std::byte* key) const { return results_ + "/" + file_name(key); }

  void unlink_file(const std::byte* key) {
    if (key != nullptr) {
      ::unlink(path_of(key).c_str());  // absent for a result kept in the database
    }
  }

  // Written under a temporary name, then renamed: a reader sees a whole file or none.
  bool write_file(const CacheKey& key, const std::byte* data, std::size_t size) {
    const std::string path = path_of(key_bytes(key).data());
    const std::string temporary =
        path + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(++temporaries_);
    const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
      warn_once(std::strerror(errno));
      return false;
    }
    std::size_t done = 0;
    while (done < size) {
      const ssize_t w = ::write(fd, data + done, size - done);
      if (w < 0 && errno == EINTR) {
        continue;
      }
      if (w <= 0) {
        warn_once(std::strerror(w < 0 ? errno : ENOSPC));
        ::close(fd);
        ::unlink(temporary.c_str());
        return false;
      }
      done += static_cast<std::size_t>(w);
    }
    ::close(fd);
    if (::rename(temporary.c_str(), path.c_str()) != 0) {
      warn_once(std::strerror(errno));
      ::unlink(temporary.c_str());
      return false;
    }
    return true;
  }

  // Maps a large result's file; false if it is gone, has another size or fails its
  // checksum.
  bool read_file(const CacheKey& key, std::uint64_t size, std::uint64_t checksum,
                 CachedBytes& out) {
    const int fd = ::open(path_of(key_bytes(key).data()).c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      return false;
    }
    struct stat st {};
    void* map = MAP_FAILED;
    if (::fstat(fd, &st) == 0 && static_cast<std::uint64_t>(st.st_size) == size && size > 0) {
      map = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    }
    ::close(fd);
    if (map == MAP_FAILED) {
      return false;
    }
    if (XXH3_64bits(map, size) != checksum) {
      ::munmap(map, size);
      return false;
    }
    out.hold_mapping(map, size);
    return true;
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
      if (k.size() == 16) {
        unlink_file(k.data());
      }
    }
  }

  void warn_once(const char* why) {
    if (!warned_) {
      warned_ = true;
      std::fprintf(stderr,
                   "mp: Memory could not store a result in %s (%s); results not stored are "
                   "computed again when asked for\n",
                   location_.c_str(), why);
    }
  }

  std::string location_;
  std::string results_;
  std::uint64_t limit_;
  std::uint64_t threshold_;
  std::uint64_t temporaries_ = 0;
  sqlite3* db_ = nullptr;
  std::mutex m_;
  bool warned_ = false;
  std::unique_ptr<Statement> get_, has_, touch_, put_, drop_;
};

// The stores open in this process, by directory and limit, while a Memory or a cached
// function holds them. One inherited through fork is not this process's: a new one opens.
struct Registry {
  std::mutex m;
  std::map<std::tuple<std::string, std::uint64_t, std::uint64_t>, std::weak_ptr<SqliteStore>>
      stores;
  std::vector<std::shared_ptr<SqliteStore>> kept;  // opened with keep_open
};

}  // namespace

CachedBytes::~CachedBytes() {
  if (map_ != nullptr) {
    ::munmap(map_, size_);
  }
}

void CachedBytes::hold(std::vector<std::byte> bytes) {
  buffer_ = std::move(bytes);
  data_ = buffer_.data();
  size_ = buffer_.size();
}

void CachedBytes::hold_mapping(void* map, std::size_t size) {
  map_ = map;
  data_ = static_cast<const std::byte*>(map);
  size_ = size;
}

CacheStore::CacheStore() : opener_(::getpid()) {}

bool CacheStore::opened_here() const { return ::getpid() == opener_; }

std::shared_ptr<CacheStore> CacheStore::of(const MemoryOptions& options, bool keep_open) {
  static auto* registry = new Registry;  // outlives static destruction: tasks may run late
  std::error_code ec;
  const std::filesystem::path where = std::filesystem::absolute(options.location, ec);
  const auto key = std::make_tuple(ec ? options.location : where.lexically_normal().string(),
                                   options.bytes_limit, options.file_threshold);
  std::lock_guard lock(registry->m);
  std::erase_if(registry->stores, [](const auto& entry) { return entry.second.expired(); });
  auto& slot = registry->stores[key];
  std::shared_ptr<SqliteStore> store = slot.lock();
  if (!store || !store->opened_here()) {
    store = std::make_shared<SqliteStore>(options);
    slot = store;
  }
  if (keep_open) {
    std::erase_if(registry->kept, [](const auto& k) { return !k->opened_here(); });
    if (std::find(registry->kept.begin(), registry->kept.end(), store) == registry->kept.end()) {
      registry->kept.push_back(store);
    }
  }
  return store;
}

}  // namespace mp::detail
