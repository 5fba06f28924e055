using System.Collections.Concurrent;
using Herald.Storage;

namespace Herald.Server.Tests.Changes;

/// <summary>A subscriber that records what it hears, and lets a test wait for a message.</summary>
internal sealed class RecordingSubscriber(string kind) : IChangeSubscriber
{
    private readonly ConcurrentQueue<(Guid Tenant, string Key, string Via)> _heard = new();
    private readonly SemaphoreSlim _arrived = new(0);
    private readonly TaskCompletionSource _lostOnce = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _lost;

    public string Kind => kind;

    public IReadOnlyList<(Guid Tenant, string Key, string Via)> Heard => [.. _heard];

    public int LostCount => Volatile.Read(ref _lost);

    public Task OnChangedAsync(Guid tenantId, string key, string via, CancellationToken ct)
    {
        _heard.Enqueue((tenantId, key, via));
        _arrived.Release();
        return Task.CompletedTask;
    }

    public Task OnMessagesLostAsync(CancellationToken ct)
    {
        Interlocked.Increment(ref _lost);
        _lostOnce.TrySetResult();
        return Task.CompletedTask;
    }

    /// <summary>Completes when the subscriber was first told that messages may have been lost.</summary>
    public Task MessagesLost => _lostOnce.Task;

    /// <summary>Waits, woken by each arrival, until a message with <paramref name="key"/> came over
    /// <paramref name="via"/>, within a generous deadline.</summary>
    public async Task WaitForAsync(string key, string via, CancellationToken ct)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
        deadline.CancelAfter(TimeSpan.FromSeconds(30));
        while (!_heard.Any(h => h.Key == key && h.Via == via))
        {
            try
            {
                await _arrived.WaitAsync(deadline.Token);
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                Assert.Fail($"No '{key}' arrived over {via}; heard: {string.Join(", ", _heard.Select(h => h.Key + "/" + h.Via))}.");
            }
        }
    }
}
