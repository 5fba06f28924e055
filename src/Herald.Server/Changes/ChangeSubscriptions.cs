using Herald.Storage;

namespace Herald.Server.Changes;

/// <summary>
/// Connects this node's caches to the storage's <see cref="IChangeFeed"/>: every registered
/// <see cref="IChangeSubscriber"/> is subscribed at start, and the feed starts listening. Subscribers register
/// themselves (one line in their feature's <c>AddHeraldX</c>); nothing else in the host announces or hears changes:
/// the stores announce their own writes.
/// </summary>
public sealed class ChangeSubscriptions(IChangeFeed feed, IEnumerable<IChangeSubscriber> subscribers) : IHostedService
{
    private readonly List<IDisposable> _subscriptions = [];

    public Task StartAsync(CancellationToken cancellationToken)
    {
        foreach (var subscriber in subscribers)
        {
            _subscriptions.Add(feed.Subscribe(subscriber));
        }

        feed.Start();
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        foreach (var subscription in _subscriptions)
        {
            subscription.Dispose();
        }

        _subscriptions.Clear();
        return Task.CompletedTask;
    }
}
