using Herald.Storage.Postgres;
using Herald.Storage.Sqlite;

namespace Herald.Server.Hosting;

public static class StorageServiceCollectionExtensions
{
    /// <summary>Registers the configured storage backend (SPEC §6: <c>Herald:Storage</c>).</summary>
    public static IServiceCollection AddHeraldStorage(this IServiceCollection services, IConfiguration configuration)
    {
        var storage = configuration["Herald:Storage"] ?? "sqlite";
        if (string.Equals(storage, "postgres", StringComparison.OrdinalIgnoreCase))
        {
            var connectionString = configuration.GetConnectionString("Postgres")
                ?? throw new StartupException("Herald:Storage is 'postgres' but ConnectionStrings:Postgres is not set.");
            try
            {
                services.AddPostgresStorage(connectionString);
            }
            catch (ArgumentException e)
            {
                throw new StartupException($"ConnectionStrings:Postgres is invalid: {e.Message}");
            }
        }
        else
        {
            try
            {
                services.AddSqliteStorage(configuration.GetConnectionString("Sqlite") ?? "Data Source=data/herald.db");
            }
            catch (ArgumentException e)
            {
                throw new StartupException($"ConnectionStrings:Sqlite is invalid: {e.Message}");
            }
        }

        return services;
    }
}
