using System.Globalization;
using System.Text;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace Herald.Testing;

/// <summary>Every row of every table of a database as text: what a backup or a read-only SQL user would see, for
/// tests asserting that customers' data appears nowhere in plaintext (erasure, encryption at rest).</summary>
public static class DatabaseDump
{
    /// <summary>Every row of every table of the public schema, one row a line (PostgreSQL's row-to-text form).</summary>
    public static async Task<string> PostgresAsync(string connectionString)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        var tables = new List<string>();
        await using (var list = new NpgsqlCommand("SELECT quote_ident(tablename) FROM pg_tables WHERE schemaname = 'public'", connection))
        await using (var r = await list.ExecuteReaderAsync())
        {
            while (await r.ReadAsync())
            {
                tables.Add(r.GetString(0));
            }
        }

        var text = new StringBuilder();
        foreach (var table in tables)
        {
            await using var rows = new NpgsqlCommand($"SELECT t::text FROM {table} t", connection);
            await using var r = await rows.ExecuteReaderAsync();
            while (await r.ReadAsync())
            {
                text.AppendLine(r.GetString(0));
            }
        }

        return text.ToString();
    }

    /// <summary>Every row of every table, one row a line, columns tab-separated (blobs as UTF-8), read-only.</summary>
    public static string Sqlite(string connectionString)
    {
        using var connection = new SqliteConnection(connectionString + ";Mode=ReadOnly;Pooling=False");
        connection.Open();
        var tables = new List<string>();
        using (var list = connection.CreateCommand())
        {
            list.CommandText = "SELECT name FROM sqlite_master WHERE type = 'table'";
            using var r = list.ExecuteReader();
            while (r.Read())
            {
                tables.Add(r.GetString(0));
            }
        }

        var text = new StringBuilder();
        foreach (var table in tables)
        {
            using var rows = connection.CreateCommand();
            rows.CommandText = $"SELECT * FROM \"{table}\"";
            using var r = rows.ExecuteReader();
            while (r.Read())
            {
                for (var i = 0; i < r.FieldCount; i++)
                {
                    text.Append(r.IsDBNull(i) ? "" : r.GetValue(i) is byte[] bytes ? Encoding.UTF8.GetString(bytes) : Convert.ToString(r.GetValue(i), CultureInfo.InvariantCulture)).Append('\t');
                }

                text.AppendLine();
            }
        }

        return text.ToString();
    }
}
