using System.Collections.Concurrent;
using Herald.Core.Notifications;

namespace Herald.Core.Rules.Expressions;

/// <summary>
/// Per-evaluation state: the context, the lazily scanned data slots and the lazily computed local time. One instance
/// per thread is reused, so a steady evaluation allocates only for text values it actually reads.
/// </summary>
internal sealed class EvalScope
{
    private static readonly string[] PriorityNames = ["critical", "high", "normal", "low"];
    private static readonly ConcurrentDictionary<string, TimeZoneInfo?> Zones = new(StringComparer.Ordinal);

    [ThreadStatic]
    private static EvalScope? s_cached;

    private Value[] _slots = [];
    private DataPaths? _paths;
    private bool _dataLoaded;
    private DateTime? _local;

    public NewNotification Notification { get; private set; } = null!;
    public IReadOnlyDictionary<string, string>? Customer { get; private set; }
    public DateTimeOffset Now { get; private set; }
    public string PriorityName { get; private set; } = "";

    /// <summary>Set when the notification's data is not a JSON object; every data path is then missing.</summary>
    public bool DataInvalid { get; private set; }

    public static EvalScope Rent(RuleContext context, Priority priority, DataPaths paths)
    {
        var scope = s_cached ?? new EvalScope();
        s_cached = null;
        scope.Notification = context.Notification;
        scope.Customer = context.Customer;
        scope.Now = context.Now;
        scope.PriorityName = PriorityNames[(int)priority];
        scope._paths = paths;
        if (scope._slots.Length < paths.Count)
        {
            scope._slots = new Value[paths.Count];
        }

        return scope;
    }

    public void Return()
    {
        if (_dataLoaded)
        {
            // Drop references to the notification's text so the cached scope does not keep it alive.
            Array.Clear(_slots);
        }

        _dataLoaded = false;
        DataInvalid = false;
        _local = null;
        Notification = null!;
        Customer = null;
        _paths = null;
        s_cached = this;
    }

    public Value Data(int slot)
    {
        if (!_dataLoaded)
        {
            _dataLoaded = true;
            DataInvalid = !_paths!.Extract(Notification.DataJson, _slots);
        }

        return _slots[slot];
    }

    /// <summary>The customer's wall-clock time from the IANA zone in the customer record's <c>timezone</c>; else UTC.</summary>
    public DateTime LocalTime => _local ??= ComputeLocal();

    private DateTime ComputeLocal()
    {
        if (Customer is { } customer && customer.TryGetValue("timezone", out var id) && !string.IsNullOrEmpty(id)
            && Zone(id) is { } zone)
        {
            return TimeZoneInfo.ConvertTime(Now, zone).DateTime;
        }

        return Now.UtcDateTime;

        // Zone ids come from customer data: cache a bounded number of them, look the rest up each time.
        static TimeZoneInfo? Zone(string id) =>
            Zones.TryGetValue(id, out var zone) ? zone
            : Zones.Count < 1_000 ? Zones.GetOrAdd(id, Find)
            : Find(id);

        static TimeZoneInfo? Find(string id)
        {
            try
            {
                return TimeZoneInfo.FindSystemTimeZoneById(id);
            }
            catch (Exception e) when (e is TimeZoneNotFoundException or InvalidTimeZoneException)
            {
                return null;
            }
        }
    }
}
