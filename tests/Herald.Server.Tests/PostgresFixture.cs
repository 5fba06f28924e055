using Herald.Testing;

[assembly: AssemblyFixture(typeof(Herald.Server.Tests.PostgresFixture))]

namespace Herald.Server.Tests;

/// <summary>One throwaway PostgreSQL server for the whole test assembly; tests create their own databases on it.</summary>
public sealed class PostgresFixture : PostgresServer, IAsyncLifetime;
