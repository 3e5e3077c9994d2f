// An ordinary accepted solution: sum the integers on stdin, with two threads.
use std::io::{self, Read};
use std::thread;

fn main() {
    let mut input = String::new();
    io::stdin().read_to_string(&mut input).unwrap();
    let values: Vec<i64> = input.split_whitespace().map(|w| w.parse().unwrap()).collect();
    let odd: Vec<i64> = values.iter().skip(1).step_by(2).cloned().collect();
    let worker = thread::spawn(move || odd.iter().sum::<i64>());
    let even: i64 = values.iter().step_by(2).sum();
    println!("{}", even + worker.join().unwrap());
}
