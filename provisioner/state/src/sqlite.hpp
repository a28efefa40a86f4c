#pragma once
// The state store's SQLite layer, private to the state module: one RAII type per SQLite handle,
// a cache of prepared statements, and transactions that nest as savepoints.

#include <sqlite3.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace vmlab::sqlite {

// Throws vmlab::Error for SQLite result code rc, with a hint that fits the code.
[[noreturn]] void fail(const std::filesystem::path& path, int rc, const char* message);

struct Close {
    void operator()(sqlite3* db) const noexcept { sqlite3_close_v2(db); }
};
struct Finalize {
    void operator()(sqlite3_stmt* stmt) const noexcept { sqlite3_finalize(stmt); }
};
using Connection = std::unique_ptr<sqlite3, Close>;
using PreparedStatement = std::unique_ptr<sqlite3_stmt, Finalize>;

// One open database file with its prepared statements. Every use holds lock() (recursive, so
// a method may call another); transactions hold it from begin to end.
class Database {
public:
    // Opens (creating) the file in WAL mode with foreign keys on.
    explicit Database(std::filesystem::path path);
    Database(const Database&) = delete;
    Database& operator=(const Database&) = delete;

    const std::filesystem::path& path() const noexcept { return m_path; }
    sqlite3* handle() const noexcept { return m_db.get(); }
    std::unique_lock<std::recursive_mutex> lock() { return std::unique_lock(m_mutex); }

    void exec(const std::string& sql);
    int changes() const { return sqlite3_changes(m_db.get()); }
    std::int64_t last_insert_rowid() const { return sqlite3_last_insert_rowid(m_db.get()); }

    // The cached statement for this SQL, prepared on first use; nullptr while it is stepping.
    sqlite3_stmt* cached(const char* sql);

    // A transaction, or a savepoint inside one.
    void begin();
    void commit();
    void rollback() noexcept;

private:
    std::filesystem::path m_path;
    Connection m_db;
    // Prepared statements by SQL text, kept for the store's lifetime: preparing one costs more
    // than running it (a tenth of `up`'s time on a large lab, measured with perf). Declared
    // after m_db, so they are finalized before it closes.
    std::unordered_map<std::string, PreparedStatement> m_statements;
    std::recursive_mutex m_mutex;
    int m_depth = 0;  // open transactions and savepoints
};

// Holds the database's lock and a transaction; rolls back unless commit() was called.
class Transaction {
public:
    explicit Transaction(Database& db) : m_lock(db.lock()), m_db(db) { m_db.begin(); }
    ~Transaction() {
        if (!m_done) m_db.rollback();
    }
    Transaction(const Transaction&) = delete;
    Transaction& operator=(const Transaction&) = delete;

    void commit() {
        m_db.commit();
        m_done = true;
    }

private:
    std::unique_lock<std::recursive_mutex> m_lock;
    Database& m_db;
    bool m_done = false;
};

// One use of a statement: the cached one, reset when done; or, while that one is still
// stepping (a nested use of the same SQL), a statement of its own.
class Statement {
public:
    Statement(Database& db, const char* sql);
    Statement(Database& db, const std::string& sql) : Statement(db, sql.c_str()) {}
    ~Statement();
    Statement(const Statement&) = delete;
    Statement& operator=(const Statement&) = delete;

    template <class... Values>
    Statement& bind(const Values&... values) {
        int index = 0;
        (check(bind_at(++index, values)), ...);
        return *this;
    }

    // True while there is a row to read.
    bool step();

    std::string text(int column) const;
    std::int64_t integer(int column) const { return sqlite3_column_int64(m_stmt, column); }
    unsigned number(int column) const { return static_cast<unsigned>(integer(column)); }

private:
    int bind_at(int index, const std::string& value) {
        return sqlite3_bind_text64(m_stmt, index, value.data(), value.size(), SQLITE_TRANSIENT,
                                   SQLITE_UTF8);
    }
    int bind_at(int index, std::string_view value) {
        return sqlite3_bind_text64(m_stmt, index, value.data(), value.size(), SQLITE_TRANSIENT,
                                   SQLITE_UTF8);
    }
    int bind_at(int index, std::int64_t value) { return sqlite3_bind_int64(m_stmt, index, value); }
    int bind_at(int index, unsigned value) { return bind_at(index, std::int64_t{value}); }
    int bind_at(int index, std::optional<unsigned> value) {
        return value ? bind_at(index, *value) : sqlite3_bind_null(m_stmt, index);
    }
    void check(int rc) const {
        if (rc != SQLITE_OK) fail(m_db.path(), rc, sqlite3_errmsg(m_db.handle()));
    }

    Database& m_db;
    sqlite3_stmt* m_stmt = nullptr;
    PreparedStatement m_owned;  // set when not the cached statement
};

}  // namespace vmlab::sqlite
