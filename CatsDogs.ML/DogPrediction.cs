using CatsDogs.ML.Data;

namespace CatsDogs.ML;

/// <summary>The classifier's answer for one photo.</summary>
/// <param name="Source">The photo's path, or a description for streams and byte arrays.</param>
/// <param name="DogProbability">P(dog), in [0, 1].</param>
public sealed record DogPrediction(string Source, float DogProbability)
{
    /// <summary>The more likely class (dog when P(dog) ≥ 0.5).</summary>
    public PetLabel PredictedLabel => DogProbability >= 0.5f ? PetLabel.Dog : PetLabel.Cat;
}
