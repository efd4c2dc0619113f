using System.Threading.RateLimiting;

namespace CatsDogs.Web;

/// <summary>
/// The <c>--max-concurrent</c> scoring slots (a <see cref="ConcurrencyLimiter"/> without a queue). A request takes
/// one only once its upload is in memory, so slow uploads never hold a slot; it is answered 429 when none is free.
/// </summary>
public sealed class ScoringSlots(WebOptions options) : IDisposable
{
    private readonly ConcurrencyLimiter _limiter = new(new ConcurrencyLimiterOptions { PermitLimit = options.MaxConcurrentRequests, QueueLimit = 0 });

    /// <summary>A slot if one is free (<see cref="RateLimitLease.IsAcquired"/>); dispose the lease to free it.</summary>
    public RateLimitLease TryTake() => _limiter.AttemptAcquire();

    /// <inheritdoc />
    public void Dispose() => _limiter.Dispose();
}
