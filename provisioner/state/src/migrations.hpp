#pragma once
// The schema of the state database, step by step: PRAGMA user_version says how far a file is.

#include "sqlite.hpp"

namespace vmlab::sqlite {

// Takes the database to StateStore::schema_version; throws vmlab::Error if it is newer.
void migrate(Database& db);

}  // namespace vmlab::sqlite
