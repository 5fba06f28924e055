namespace Herald.Testing;

/// <summary>
/// The system clock, except that a test can stop its wall-clock time (<see cref="GetUtcNow"/>) while timers, delays
/// and timestamps keep running. For code that buckets by the current time (the sandbox's one-second rate windows):
/// with the clock stopped, a burst of sends lands in one window however slowly a loaded machine sends it.
/// </summary>
public sealed class StoppableClock : TimeProvider
{
    // UTC ticks of the stopped instant, or -1 while running; one word, so readers on other threads never see half of it.
    private long _stoppedAtTicks = -1;

    /// <summary>From now on <see cref="GetUtcNow"/> answers this instant.</summary>
    public void Stop() => Interlocked.Exchange(ref _stoppedAtTicks, System.GetUtcNow().UtcTicks);

    public override DateTimeOffset GetUtcNow() =>
        Interlocked.Read(ref _stoppedAtTicks) is >= 0 and var ticks ? new DateTimeOffset(ticks, TimeSpan.Zero) : System.GetUtcNow();
}
