using System.Threading.RateLimiting;

namespace CatsDogs.Web;

/// <summary>
/// The <c>--max-concurrent</c> scoring slots: ASP.NET Core's <see cref="ConcurrencyLimiter"/> with a short queue
/// (<c>--max-queued</c>, oldest first) and a wait timeout (<c>--queue-timeout</c>). A request takes a slot only once
/// its upload is in memory, so slow uploads never hold one; it is answered 429 with Retry-After when the queue is full
/// or its wait runs out.
/// </summary>
public sealed class ScoringSlots(WebOptions options) : IDisposable
{
    private readonly ConcurrencyLimiter _limiter = new(new ConcurrencyLimiterOptions
    {
        PermitLimit = options.MaxConcurrentRequests,
        QueueLimit = options.MaxQueuedRequests,
        QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
    });

    /// <summary>
    /// A slot, waiting in the queue for at most the queue timeout; <see cref="RateLimitLease.IsAcquired"/> is false when
    /// the queue is full or the wait ran out. Dispose the lease to free the slot.
    /// </summary>
    public async ValueTask<RateLimitLease> TakeAsync(CancellationToken token)
    {
        using var wait = CancellationTokenSource.CreateLinkedTokenSource(token);
        wait.CancelAfter(options.QueueTimeout);
        try
        {
            return await _limiter.AcquireAsync(1, wait.Token);
        }
        catch (OperationCanceledException) when (!token.IsCancellationRequested)
        {
            return Refused.Instance;
        }
    }

    /// <inheritdoc />
    public void Dispose() => _limiter.Dispose();

    // The lease of a wait that ran out.
    private sealed class Refused : RateLimitLease
    {
        public static readonly Refused Instance = new();

        public override bool IsAcquired => false;

        public override IEnumerable<string> MetadataNames => [];

        public override bool TryGetMetadata(string metadataName, out object? metadata)
        {
            metadata = null;
            return false;
        }
    }
}
