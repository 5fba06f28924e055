using Microsoft.Extensions.Options;

namespace Herald.Sandbox.Settings;

/// <summary>The run-time shape of the simulated providers.</summary>
public sealed record SandboxSettingsSnapshot(
    int LatencyMs,
    int RatePerSecond,
    int ReceiptDelayMs,
    double FailureRate,
    int WebhookBatchSize);

/// <summary>Partial update for <c>PUT /sandbox/settings</c>; null fields are left unchanged.</summary>
public sealed record SandboxSettingsUpdate(
    int? LatencyMs,
    int? RatePerSecond,
    int? ReceiptDelayMs,
    double? FailureRate,
    int? WebhookBatchSize);

/// <summary>Current shaping values, initialised from <see cref="SandboxOptions"/>, swapped atomically.</summary>
public sealed class SandboxSettings(IOptions<SandboxOptions> options)
{
    private readonly Lock updateLock = new();
    private volatile SandboxSettingsSnapshot current = new(
        options.Value.LatencyMs,
        options.Value.RatePerSecond,
        options.Value.ReceiptDelayMs,
        options.Value.FailureRate,
        options.Value.WebhookBatchSize);

    /// <summary>The values in force.</summary>
    public SandboxSettingsSnapshot Current => current;

    /// <summary>Validates an update; returns field errors, empty when valid.</summary>
    public static Dictionary<string, string[]> Validate(SandboxSettingsUpdate update)
    {
        var errors = new Dictionary<string, string[]>();
        if (update.LatencyMs is < 0 or > 600_000)
        {
            errors["latencyMs"] = ["Must be between 0 and 600000."];
        }

        if (update.RatePerSecond is < 0)
        {
            errors["ratePerSecond"] = ["Must be 0 (unlimited) or positive."];
        }

        if (update.ReceiptDelayMs is < 0 or > 3_600_000)
        {
            errors["receiptDelayMs"] = ["Must be between 0 and 3600000."];
        }

        if (update.FailureRate is { } rate && (double.IsNaN(rate) || rate < 0 || rate > 1))
        {
            errors["failureRate"] = ["Must be between 0 and 1."];
        }

        if (update.WebhookBatchSize is < 1 or > 1000)
        {
            errors["webhookBatchSize"] = ["Must be between 1 and 1000."];
        }

        return errors;
    }

    /// <summary>Applies a validated update and returns the new values.</summary>
    public SandboxSettingsSnapshot Apply(SandboxSettingsUpdate update)
    {
        lock (updateLock)
        {
            var old = current;
            current = new SandboxSettingsSnapshot(
                update.LatencyMs ?? old.LatencyMs,
                update.RatePerSecond ?? old.RatePerSecond,
                update.ReceiptDelayMs ?? old.ReceiptDelayMs,
                update.FailureRate ?? old.FailureRate,
                update.WebhookBatchSize ?? old.WebhookBatchSize);
            return current;
        }
    }
}
