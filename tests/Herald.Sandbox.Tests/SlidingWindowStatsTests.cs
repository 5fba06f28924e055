using System.Text.Json;
using Herald.Sandbox.Throttling;
using Microsoft.Extensions.Time.Testing;

namespace Herald.Sandbox.Tests;

/// <summary>The per-account send counts an outside check uses to prove a provider rate limit (RATE-LIMITS.md).</summary>
public sealed class SlidingWindowStatsTests
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 1, 5, 10, 0, 0, 500, TimeSpan.Zero));

    [Fact]
    public void SendsStraddlingASecondBoundary_CountInOneSlidingWindowButTwoAlignedOnes()
    {
        var stats = new SandboxStats(_time);
        // 50 sends in [x.5, x+1.0) and 70 in [x+1.0, x+1.42): 120 within 920 ms, split 50/70 by the aligned second.
        for (var i = 0; i < 50; i++)
        {
            stats.Accepted("telegram", "bot-1");
            _time.Advance(TimeSpan.FromMilliseconds(10));
        }

        for (var i = 0; i < 70; i++)
        {
            stats.Accepted("telegram", "bot-1");
            _time.Advance(TimeSpan.FromMilliseconds(6));
        }

        var account = stats.Account("telegram", "bot-1");
        Assert.Equal(120, account.Accepted);
        Assert.Equal(120, account.MaxPerSlidingSecond);
        Assert.Equal(70, account.MaxPerSecond);
    }

    [Fact]
    public void EvenlySpacedSends_SlidingMaxIsTheRate_AndWindowsAreHalfOpen()
    {
        var stats = new SandboxStats(_time);
        // Exactly 100 per second for five seconds: the send one second after another is not in its window.
        for (var i = 0; i < 500; i++)
        {
            stats.Accepted("whatsapp", "pn-1");
            _time.Advance(TimeSpan.FromMilliseconds(10));
        }

        stats.Accepted("whatsapp", "pn-2");

        Assert.Equal(100, stats.Account("whatsapp", "pn-1").MaxPerSlidingSecond);
        Assert.Equal(1, stats.Account("whatsapp", "pn-2").MaxPerSlidingSecond);
        Assert.Equal(100, stats.Channel("whatsapp").MaxPerSlidingSecond);
    }

    [Fact]
    public void Snapshot_KeepsTheOldFieldsAndAddsSlidingMaxAndFirstAndLastAcceptance()
    {
        var stats = new SandboxStats(_time);
        var first = _time.GetUtcNow();
        stats.Accepted("sms", "AC1");
        _time.Advance(TimeSpan.FromSeconds(2));
        stats.Accepted("sms", "AC1");

        using var json = JsonDocument.Parse(JsonSerializer.Serialize(stats.Snapshot()));
        var account = json.RootElement.GetProperty("sms").GetProperty("accounts").GetProperty("AC1");
        Assert.Equal(2, account.GetProperty("accepted").GetInt64());
        Assert.Equal(1, account.GetProperty("maxPerSecond").GetInt64());
        Assert.Equal(1, account.GetProperty("maxPerSlidingSecond").GetInt64());
        Assert.Equal(first, account.GetProperty("firstAcceptedAt").GetDateTimeOffset());
        Assert.Equal(first.AddSeconds(2), account.GetProperty("lastAcceptedAt").GetDateTimeOffset());
        Assert.Equal(0, account.GetProperty("rateLimited").GetInt64());
    }
}
