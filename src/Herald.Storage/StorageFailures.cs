using System.Data.Common;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace Herald.Storage;

/// <summary>Tells a database's refusal of the data (one item's value or constraint) from a failure of the database.</summary>
public static class StorageFailures
{
    private const int SqliteConstraintTrigger = 19 | (7 << 8);

    /// <summary>
    /// True when the database refused the statement because of what it was given: PostgreSQL's data exceptions (class
    /// 22, e.g. 22P05 an unstorable character), integrity constraints (23) and program limits (54, e.g. an index row
    /// too large); SQLite's constraint, too-big and mismatch errors. Retrying the same data cannot succeed; other
    /// items of the same group can.
    /// </summary>
    public static bool IsCausedByData(Exception exception)
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            switch (e)
            {
                case PostgresException { SqlState: ['2', '2' or '3', ..] or ['5', '4', ..] }:
                    return true;
                // A trigger's RAISE is not the data's fault (Herald's schema has no trigger; as PostgreSQL's P0001 it
                // is someone refusing every write): SQLITE_CONSTRAINT_TRIGGER stays a failure of the database.
                case SqliteException { SqliteExtendedErrorCode: SqliteConstraintTrigger }:
                    return false;
                case SqliteException { SqliteErrorCode: 18 or 19 or 20 }: // SQLITE_TOOBIG, SQLITE_CONSTRAINT, SQLITE_MISMATCH
                    return true;
                case NpgsqlException or SqliteException:
                    return false;
            }
        }

        return false;
    }

    /// <summary>The database's error code, safe to show and log (never the message, which may quote the data).</summary>
    public static string Code(Exception exception)
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            switch (e)
            {
                case PostgresException p:
                    return "SQLSTATE " + p.SqlState;
                case SqliteException s:
                    return "SQLite error " + s.SqliteErrorCode.ToString(System.Globalization.CultureInfo.InvariantCulture);
                case DbException d:
                    return d.GetType().Name;
            }
        }

        return exception.GetType().Name;
    }
}
