namespace Herald.Server.Hosting;

/// <summary>What one process does (SPEC §4). Every role is stateless; run as many replicas as needed.</summary>
public enum HeraldRole
{
    /// <summary>Ingest, admin API, callbacks, sandbox and console.</summary>
    Api,
    /// <summary>Dispatch, timers and queue maintenance.</summary>
    Worker,
    /// <summary>Both (the default).</summary>
    All,
    /// <summary>Apply schema migrations and exit.</summary>
    Migrate,
    /// <summary>Re-wrap tenant keys with the current node key, optionally rotate tenants' data keys, re-encrypt stored
    /// customer data in batches (resumable, safe while other nodes serve) and exit (issue #17, docs/OPERATIONS.md).</summary>
    Reencrypt,
    /// <summary>Check the audit trail's hash chains (every tenant's and the system's, or <c>--tenant id</c>), print the
    /// entries checked and the first broken link per chain, and exit 1 when one is broken (issue #17, docs/OPERATIONS.md).
    /// Written <c>audit-verify</c> on the command line.</summary>
    AuditVerify,
}

public static class HeraldRoles
{
    /// <summary>Takes the role from the first argument that is not an option; <c>all</c> when there is none.</summary>
    public static (HeraldRole Role, string[] Remaining) Parse(string[] args)
    {
        if (args.Length > 0 && !args[0].StartsWith('-') && !args[0].Contains('=', StringComparison.Ordinal))
        {
            // Verbs of two words are written with a dash (audit-verify).
            return Enum.TryParse<HeraldRole>(args[0].Replace("-", "", StringComparison.Ordinal), ignoreCase: true, out var role) && Enum.IsDefined(role)
                ? (role, args[1..])
                : throw new ArgumentException($"Unknown role '{args[0]}'. Use one of: all, api, worker, migrate, reencrypt, audit-verify.");
        }

        return (HeraldRole.All, args);
    }

    public static bool ServesApi(this HeraldRole role) => role is HeraldRole.Api or HeraldRole.All;

    public static bool Delivers(this HeraldRole role) => role is HeraldRole.Worker or HeraldRole.All;
}
