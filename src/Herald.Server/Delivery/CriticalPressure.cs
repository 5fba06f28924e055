using Herald.Server.Hosting;

namespace Herald.Server.Delivery;

/// <summary>
/// Whether critical notifications are flowing through this worker: from the moment one is claimed until
/// <see cref="WorkerOptions.CriticalCalm"/> after the last. While they flow, all but
/// <see cref="WorkerOptions.LoopsWhileCritical"/> of the lower lanes' loops stop claiming, so the cores, the database and
/// the provider connections are not saturated when the next critical needs them (SPEC §2: a critical never waits behind
/// lower ones). A saturated machine queues every step of every message, and the critical's steps with them.
/// </summary>
public sealed class CriticalPressure(TimeProvider time, TimeSpan calm)
{
    private long _untilTicks;

    /// <summary>A critical was claimed now: the pressure lasts until the calm period after it. (Two loops seeing
    /// criticals at the same moment may store their ends in either order; they differ by microseconds.)</summary>
    public void Seen() => Interlocked.Exchange(ref _untilTicks, (time.GetUtcNow() + calm).UtcTicks);

    /// <summary>Completes once no critical has been claimed for the calm period.</summary>
    public async Task WhenCalmAsync(CancellationToken ct)
    {
        while (true)
        {
            var left = Interlocked.Read(ref _untilTicks) - time.GetUtcNow().UtcTicks;
            if (left <= 0)
            {
                return;
            }

            await Task.Delay(TimeSpan.FromTicks(left), time, ct);
        }
    }
}
