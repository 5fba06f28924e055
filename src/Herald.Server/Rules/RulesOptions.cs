using System.ComponentModel.DataAnnotations;

namespace Herald.Server.Rules;

/// <summary><c>Herald:Rules</c>: the rule-set cache and API.</summary>
public sealed class RulesOptions
{
    public const string Section = "Herald:Rules";

    /// <summary>How often each node compares its rule-set versions with the store: the safety net behind the change
    /// messages (Redis and PostgreSQL), not the normal path.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "01:00:00")]
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>How long start-up waits to load every tenant's rules before it leaves them to the poll.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "00:10:00")]
    public TimeSpan StartupLoadTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Largest rule set document PUT accepts, in bytes.</summary>
    [Range(1_024, 16 * 1024 * 1024)]
    public int MaxDocumentBytes { get; set; } = 1024 * 1024;
}
